from django import forms
from django.utils.translation import gettext_lazy as _

from minqing.areas.models import Area, Level

from .models import TipCategory, TipChannel


def area_choices():
    """Townships and villages of the tree, indented under their parents (no JS needed)."""
    rows = Area.objects.filter(level__in=(Level.TOWNSHIP, Level.VILLAGE)).values_list(
        "pk", "name", "level"
    )
    return [("", "——")] + [
        (pk, ("\u3000" if level == Level.VILLAGE else "") + name) for pk, name, level in rows
    ]


class TipForm(forms.Form):
    area = forms.ChoiceField(
        label=_("发生地(乡镇、村/社区)"),
        error_messages={"required": _("请选择发生地"), "invalid_choice": _("请选择有效的发生地")},
    )
    category = forms.ModelChoiceField(
        label=_("类别"),
        queryset=TipCategory.objects.filter(is_active=True),
        empty_label="——",
        error_messages={"required": _("请选择类别"), "invalid_choice": _("请选择有效的线索类别")},
    )
    content = forms.CharField(
        label=_("发生了什么"),
        widget=forms.Textarea(attrs={"rows": 6}),
        error_messages={"required": _("请填写举报内容")},
    )
    when_where = forms.CharField(label=_("时间和地点"), required=False)
    people_named = forms.CharField(
        label=_("涉及的人员(姓名、绰号、职务)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    leave_identity = forms.BooleanField(label=_("我愿意留下身份信息(加密保存)"), required=False)
    name = forms.CharField(label=_("姓名"), required=False)
    contact = forms.CharField(label=_("联系方式"), required=False)
    other = forms.CharField(label=_("其他(如方便联系的时间)"), required=False)

    def __init__(self, *args, officer=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["area"].choices = area_choices()
        if officer:
            self.fields["channel"] = forms.ChoiceField(
                label=_("来源"), choices=[c for c in TipChannel.choices if c[0] != "web"]
            )

    def identity(self) -> dict | None:
        d = self.cleaned_data
        if not d.get("leave_identity"):
            return None
        return {
            "name": d.get("name", ""),
            "contact": d.get("contact", ""),
            "other": d.get("other", ""),
        }


class ReceiptForm(forms.Form):
    code = forms.CharField(label=_("回执码"), max_length=64)


class AddInfoForm(forms.Form):
    code = forms.CharField(widget=forms.HiddenInput, max_length=64)
    body = forms.CharField(
        label=_("补充内容"), required=False, widget=forms.Textarea(attrs={"rows": 4})
    )


class TransitionForm(forms.Form):
    action = forms.CharField(max_length=32)
    comment = forms.CharField(
        label=_("说明"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class AssignForm(forms.Form):
    handler = forms.ChoiceField(label=_("承办人"))
    deadline = forms.DateField(
        label=_("核查期限"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )


class TextForm(forms.Form):
    body = forms.CharField(label=_("内容"), widget=forms.Textarea(attrs={"rows": 3}))


class ConflictForm(forms.Form):
    officer = forms.ChoiceField(label=_("回避人员"))
    reason = forms.CharField(label=_("回避理由"))


class IdentityRequestForm(forms.Form):
    reason = forms.CharField(label=_("申请理由"), widget=forms.Textarea(attrs={"rows": 2}))


class DecideForm(forms.Form):
    approve = forms.ChoiceField(choices=[("1", _("批准")), ("0", _("不批准"))])
    note = forms.CharField(label=_("审批意见"))
