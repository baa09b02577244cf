"""Forms of the appeal pages. Choices come through the scoping querysets."""

from django import forms
from django.utils.translation import gettext_lazy as _

from minqing.areas.models import Area, Level

from .models import Category, Channel, Kind, MediationOutcome, Rating

STAFF_CHANNELS = [c for c in Channel.choices if c[0] not in (Channel.WEB, Channel.OPEN311)]


class AppealForm(forms.Form):
    channel = forms.ChoiceField(label=_("来源渠道"), choices=STAFF_CHANNELS)
    kind = forms.ChoiceField(label=_("类型"), choices=Kind.choices)
    category_id = forms.ModelChoiceField(label=_("类别"), queryset=Category.objects.none())
    area_id = forms.ModelChoiceField(label=_("所在村(社区)/网格"), queryset=Area.objects.none())
    # Chosen with the shared household picker (registry/_household_picker.html), which fills
    # this hidden id; clean_household_id checks it through the scoped lookup.
    household_id = forms.IntegerField(label=_("户"), required=False, widget=forms.HiddenInput)
    title = forms.CharField(label=_("标题"), max_length=100, required=False)
    content = forms.CharField(label=_("诉求内容"), widget=forms.Textarea(attrs={"rows": 5}))
    location = forms.CharField(label=_("地点"), max_length=200, required=False)
    contact_name = forms.CharField(label=_("联系人"), max_length=50, required=False)
    contact_phone = forms.CharField(label=_("联系电话"), max_length=20, required=False)
    parties = forms.CharField(
        label=_("纠纷当事人"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.picked_household = None
        self.fields["category_id"].queryset = Category.objects.filter(is_active=True)
        areas = Area.objects.filter(level__gte=Level.VILLAGE)
        if user is not None:
            areas = areas.visible_to(user)
            from django.urls import reverse

            # the proposal (categories, duplicates) follows the text as it is typed
            self.fields["content"].widget.attrs.update(
                {
                    "hx-post": reverse("appeals:suggest"),
                    "hx-trigger": "input changed delay:700ms",
                    "hx-target": "#suggest",
                    "hx-include": "closest form",
                }
            )
        else:
            self.fields.pop("household_id")
            self.fields.pop("channel")
            self.fields.pop("kind")
            self.fields.pop("parties")
        self.fields["area_id"].queryset = areas.order_by("path")

    def clean_household_id(self):
        pk = self.cleaned_data.get("household_id")
        if not pk:
            return None
        from minqing.registry.models import Household

        household = (
            Household.objects.visible_to(self.user).select_related("head").filter(pk=pk).first()
            if self.user is not None
            else None
        )
        if household is None:
            raise forms.ValidationError(_("户不存在或不在您的管辖范围内"))
        self.picked_household = household
        return pk

    def service_kwargs(self) -> dict:
        data = dict(self.cleaned_data)
        data["category_id"] = data["category_id"].pk
        data["area_id"] = data["area_id"].pk
        return data


class CommentForm(forms.Form):
    comment = forms.CharField(
        label=_("说明"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("理由"), widget=forms.Textarea(attrs={"rows": 2}))


class AssignForm(forms.Form):
    unit_id = forms.IntegerField(label=_("承办单位"), widget=forms.Select)
    owner_id = forms.IntegerField(label=_("包案人(可不选)"), required=False, widget=forms.Select)
    comment = forms.CharField(label=_("交办意见"), required=False)

    def __init__(self, *args, units=(), owners=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit_id"].widget.choices = [(u.pk, f"{u.area.name} · {u.name}") for u in units]
        self.fields["owner_id"].widget.choices = [("", "—")] + [
            (o.pk, f"{o.unit.name} · {o}") for o in owners
        ]


class ResolveForm(forms.Form):
    result = forms.CharField(label=_("办理结果(内部)"), widget=forms.Textarea(attrs={"rows": 3}))
    public_reply = forms.CharField(
        label=_("答复群众(查询页可见)"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class RateForm(forms.Form):
    rating = forms.ChoiceField(label=_("评价"), choices=Rating.choices, widget=forms.RadioSelect)
    comment = forms.CharField(
        label=_("意见(不满意请说明原因)"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class ReplyForm(forms.Form):
    text = forms.CharField(label=_("内容"), widget=forms.Textarea(attrs={"rows": 2}))
    is_public = forms.BooleanField(label=_("对群众公开"), required=False)


class MediateForm(forms.Form):
    record = forms.CharField(label=_("调解记录"), widget=forms.Textarea(attrs={"rows": 3}))
    outcome = forms.ChoiceField(label=_("调解结果"), choices=MediationOutcome.choices)


class TrackForm(forms.Form):
    code = forms.CharField(label=_("查询码"), max_length=40)


ACTION_FORMS = {
    "claim": CommentForm,
    "assign": AssignForm,
    "start": CommentForm,
    "return": ReasonForm,
    "escalate": ReasonForm,
    "supervise": CommentForm,
    "resolve": ResolveForm,
    "rate": RateForm,
    "reopen": ReasonForm,
    "archive": CommentForm,
}
