"""Forms of the registry pages. They only parse input; the services hold every rule."""

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from minqing.areas.models import Level
from minqing.areas.selectors import area_picker_choices

from . import rules
from .models import Move, Organisation, Place, Relation, ResidentStatus, Tag
from .selectors import HOUSEHOLD_EMPTY, all_tags, visible_grids

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
ALL = _("全部")


def area_choices(user, *, grids_only: bool = False, blank=ALL) -> list[tuple]:
    """Areas in the jurisdiction, indented by level (township › village › grid)."""
    rows = visible_grids(fetched_by=user)
    if grids_only:
        rows = rows.filter(level=Level.GRID).select_related("parent")
    choices = [("", blank)] if blank is not None else []
    for area in rows:
        if grids_only:
            label = f"{area.parent.name} › {area.name}" if area.parent_id else area.name
        else:
            label = "\u3000" * max(area.level - Level.TOWNSHIP, 0) + area.name
        choices.append((str(area.pk), label))
    return choices


def tag_choices(*, scope: str | None = None, blank=ALL) -> list[tuple]:
    """The tags to filter or give by, from the process's copy (registry.selectors.all_tags)."""
    tags = [t for t in all_tags() if not scope or t.scope == scope]
    choices = [("", blank)] if blank is not None else []
    return choices + [(t.code, t.name) for t in tags]


class SearchForm(forms.Form):
    q = forms.CharField(
        label=_("搜索"),
        required=False,
        widget=forms.TextInput(
            attrs={
                "placeholder": _("姓名、拼音、首字母、手机后四位、住址、户编号"),
                "type": "search",
            }
        ),
    )
    grid_id = forms.ChoiceField(label=_("区域"), required=False)
    tag = forms.ChoiceField(label=_("重点人群"), required=False)
    status = forms.ChoiceField(label=_("状态"), required=False)

    def __init__(self, *args, user, households: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["grid_id"].choices = area_picker_choices(user, self.data.get("grid_id"))
        self.fields["tag"].choices = tag_choices()
        statuses = [("", _("全部"))]
        if households:
            statuses += [
                (ResidentStatus.LIVING, _("有在住成员")),
                (HOUSEHOLD_EMPTY, _("已无在住成员")),
                (ResidentStatus.MOVED_OUT, _("有迁出成员")),
                (ResidentStatus.DECEASED, _("有已故成员")),
            ]
        else:
            statuses += list(ResidentStatus.choices)
        self.fields["status"].choices = statuses

    def filter_fields(self):
        return [self["grid_id"], self["tag"], self["status"]]

    def params(self) -> dict:
        """Selector arguments, as given: the selector answers an area, tag or status the
        user cannot choose with no rows (never with rows outside the jurisdiction)."""
        data = self.data
        return {
            "q": (data.get("q") or "").strip(),
            "grid_id": data.get("grid_id") or None,
            "tag": data.get("tag") or None,
            "status": data.get("status") or None,
        }


class RuleFieldsMixin:
    """Phone, name and 身份证号 cleaned by the registry's one set of rules (rules.py), so
    the page shows the importer's message and the value the service stores."""

    def _rule(self, func, field):
        value = self.cleaned_data.get(field, "")
        if not value:
            return value
        try:
            result = func(value)
        except rules.RuleError as exc:
            raise forms.ValidationError(exc.message) from None
        return result[0] if isinstance(result, tuple) else result

    def clean_phone(self):
        return self._rule(rules.clean_phone, "phone")

    def clean_name(self):
        return self._rule(rules.clean_name, "name")

    def clean_id_number(self):
        return self._rule(rules.clean_id_number, "id_number")


class HouseholdForm(RuleFieldsMixin, forms.Form):
    grid = forms.ChoiceField(label=_("网格"))
    number = forms.CharField(
        label=_("户编号"),
        required=False,
        max_length=32,
        help_text=_("留空则按网格代码自动编号"),
    )
    address = forms.CharField(label=_("住址"), max_length=200)
    phone = forms.CharField(label=_("联系电话"), required=False, max_length=20)
    notes = forms.CharField(
        label=_("备注"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    # The version the edit starts from (edits only): a stale save answers 409.
    version = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["grid"].choices = area_choices(user, grids_only=True, blank=_("请选择网格"))


class ResidentForm(RuleFieldsMixin, forms.Form):
    name = forms.CharField(label=_("姓名"), max_length=50)
    id_number = forms.CharField(label=_("身份证号"), max_length=20)
    relation = forms.ChoiceField(label=_("与户主关系"), choices=Relation.choices)
    phone = forms.CharField(label=_("手机号"), required=False, max_length=20)
    moved_in_on = forms.DateField(
        label=_("迁入日期"),
        required=False,
        widget=DATE,
        help_text=_("从外地迁入时填写；原有居民登记留空"),
    )
    reason = forms.CharField(label=_("迁入原因"), required=False, max_length=200)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "member_%s")  # unique ids beside the page's other forms
        super().__init__(*args, **kwargs)


class ResidentEditForm(RuleFieldsMixin, forms.Form):
    name = forms.CharField(label=_("姓名"), max_length=50)
    id_number = forms.CharField(
        label=_("身份证号"),
        required=False,
        max_length=20,
        help_text=_("只在需要更正时填写完整号码；留空则不修改"),
    )
    relation = forms.ChoiceField(label=_("与户主关系"), choices=Relation.choices)
    phone = forms.CharField(
        label=_("手机号"),
        required=False,
        max_length=20,
        help_text=_("只在需要更正时填写；留空则不修改"),
    )
    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)


class TagGiveForm(forms.Form):
    """The tag decides its subject: household tags (低保, 建档立卡贫困户) go to the household,
    personal ones to a member, so the form cannot offer a wrong pair."""

    tag = forms.ChoiceField(label=_("标签"))
    subject = forms.ChoiceField(label=_("成员"), required=False)
    date = forms.DateField(label=_("认定日期"), widget=DATE)
    reason = forms.CharField(label=_("认定原因"), max_length=200)

    def __init__(self, *args, members=(), **kwargs):
        kwargs.setdefault("initial", {}).setdefault("date", timezone.localdate())
        kwargs.setdefault("auto_id", "tag_%s")
        super().__init__(*args, **kwargs)
        tags = list(Tag.objects.order_by("order", "name"))
        self.household_codes = [t.code for t in tags if t.scope == Tag.Scope.HOUSEHOLD]
        self.personal_codes = [t.code for t in tags if t.scope != Tag.Scope.HOUSEHOLD]
        self.fields["tag"].choices = [
            ("", _("请选择")),
            (_("按户认定"), [(t.code, t.name) for t in tags if t.scope == Tag.Scope.HOUSEHOLD]),
            (_("按人认定"), [(t.code, t.name) for t in tags if t.scope != Tag.Scope.HOUSEHOLD]),
        ]
        self.fields["subject"].choices = [("", _("请选择成员"))] + [
            (str(m.pk), f"{m.name}（{m.get_relation_display()}）")
            for m in members
            if m.status == ResidentStatus.LIVING
        ]
        self.fields["date"].widget.attrs["max"] = timezone.localdate().isoformat()
        if self.is_bound and self.data.get("subject") == "household":
            self.data = self.data.copy()  # the old form's "本户": the tag decides anyway
            self.data["subject"] = ""

    def clean(self):
        data = super().clean()
        code = data.get("tag")
        if code in self.household_codes:
            data["subject"] = "household"
        elif code and not data.get("subject"):
            self.add_error("subject", _("这是个人标签，请选择成员"))
        return data


class TagRemoveForm(forms.Form):
    date = forms.DateField(label=_("退出日期"), widget=DATE)
    reason = forms.CharField(label=_("退出原因"), max_length=200)


class MoveForm(forms.Form):
    resident = forms.ChoiceField(label=_("居民"))
    kind = forms.ChoiceField(label=_("类型"), choices=Move.Kind.choices[:4])
    date = forms.DateField(label=_("日期"), widget=DATE)
    # Filled by the household picker (registry/_household_picker.html): a household id.
    to_household = forms.IntegerField(label=_("迁入的户"), required=False, widget=forms.HiddenInput)
    relation = forms.ChoiceField(
        label=_("在新户中的关系"),
        required=False,
        choices=[("", _("不变/其他"))] + list(Relation.choices),
    )
    reason = forms.CharField(label=_("原因"), required=False, max_length=200)

    def __init__(self, *args, members=(), **kwargs):
        kwargs.setdefault("initial", {}).setdefault("date", timezone.localdate())
        kwargs.setdefault("auto_id", "move_%s")
        super().__init__(*args, **kwargs)
        self.fields["resident"].choices = [("", _("请选择"))] + [
            (str(m.pk), f"{m.name}（{m.get_status_display()}）") for m in members
        ]
        self.fields["date"].widget.attrs["max"] = timezone.localdate().isoformat()

    def clean(self):
        data = super().clean()
        if data.get("kind") == Move.Kind.TRANSFER and not data.get("to_household"):
            self.add_error("to_household", _("请搜索并选择迁入的户"))
        return data


class MoveCorrectForm(forms.Form):
    reason = forms.CharField(label=_("更正原因"), max_length=200)


class RevealForm(forms.Form):
    """A common reason is one tap (a button named `reason`); any other is typed."""

    reason = forms.CharField(label=_("查看原因"), max_length=100, required=False)
    reason_other = forms.CharField(label=_("其他原因"), max_length=100, required=False)

    def clean(self):
        data = super().clean()
        data["reason"] = (data.get("reason") or data.get("reason_other") or "").strip()
        if not data["reason"]:
            raise forms.ValidationError(_("请说明查看原因"))
        return data


class PlaceForm(forms.Form):
    grid = forms.ChoiceField(label=_("网格"))
    name = forms.CharField(label=_("名称"), max_length=100)
    kind = forms.ChoiceField(label=_("类型"), choices=Place.Kind.choices)
    address = forms.CharField(label=_("地址"), required=False, max_length=200)
    contact_name = forms.CharField(label=_("联系人"), required=False, max_length=50)
    contact_phone = forms.CharField(label=_("联系电话"), required=False, max_length=20)
    notes = forms.CharField(
        label=_("备注"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["grid"].choices = area_choices(user, grids_only=True, blank=_("请选择网格"))


class OrganisationForm(PlaceForm):
    kind = forms.ChoiceField(label=_("类型"), choices=Organisation.Kind.choices)
    credit_code = forms.CharField(label=_("统一社会信用代码"), required=False, max_length=18)
    has_party_branch = forms.BooleanField(label=_("建有党组织"), required=False)

    field_order = [
        "grid",
        "name",
        "kind",
        "credit_code",
        "address",
        "contact_name",
        "contact_phone",
        "has_party_branch",
        "notes",
    ]


class TagCreateForm(forms.Form):
    name = forms.CharField(label=_("名称"), max_length=32)
    code = forms.CharField(
        label=_("代码"), max_length=32, help_text=_("小写英文字母、数字和下划线，如 veteran")
    )
    scope = forms.ChoiceField(label=_("对象"), choices=Tag.Scope.choices)
    description = forms.CharField(label=_("说明"), required=False, max_length=200)


class GridThingFilterForm(forms.Form):
    q = forms.CharField(label=_("搜索"), required=False)
    grid_id = forms.ChoiceField(label=_("区域"), required=False)
    kind = forms.ChoiceField(label=_("类型"), required=False)

    def __init__(self, *args, user, kinds, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["grid_id"].choices = area_picker_choices(user, self.data.get("grid_id"))
        self.fields["kind"].choices = [("", _("全部"))] + list(kinds)

    def params(self) -> dict:
        data = self.data
        return {
            "q": (data.get("q") or "").strip(),
            "grid_id": data.get("grid_id") or None,
            "kind": data.get("kind") or "",
        }
