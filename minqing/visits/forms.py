"""Forms of the visit pages. They only parse input; the services hold every rule."""

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from minqing.appeals.models import Category
from minqing.registry.models import Tag

from .services import TagFinding

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input (Django's documented pattern); checked by the service."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/*"}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data]
        return [single(data, initial)] if data else []


class VisitForm(forms.Form):
    """One form for the visit and what it raised."""

    visited_at = forms.DateTimeField(
        label=_("走访时间"),
        widget=DATETIME,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
    )
    place = forms.CharField(label=_("走访地点"), required=False, max_length=200)
    met_members = forms.MultipleChoiceField(
        label=_("见到的家庭成员"), required=False, widget=forms.CheckboxSelectMultiple
    )
    met_others = forms.CharField(
        label=_("见到的其他人"),
        required=False,
        max_length=200,
        help_text=_("邻居、亲戚等,可不填"),
    )
    situation = forms.CharField(
        label=_("走访情况"), widget=forms.Textarea(attrs={"rows": 5}), max_length=5000
    )
    visitors = forms.MultipleChoiceField(
        label=_("同行走访人"), required=False, widget=forms.CheckboxSelectMultiple
    )
    tag = forms.ChoiceField(label=_("发现重点人群"), required=False)
    tag_resident = forms.ChoiceField(label=_("认定给"), required=False)
    tag_date = forms.DateField(label=_("认定日期"), required=False, widget=DATE)
    follow_up_date = forms.DateField(label=_("约定回访日期"), required=False, widget=DATE)
    photos = MultipleFileField(label=_("照片"), required=False)
    need = forms.CharField(
        label=_("诉求或困难"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    need_category = forms.ChoiceField(label=_("诉求类别"), required=False)
    dispute = forms.CharField(
        label=_("矛盾纠纷"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, members=(), colleagues=(), **kwargs):
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault(
            "visited_at", timezone.localtime().replace(second=0, microsecond=0)
        )
        super().__init__(*args, **kwargs)
        self.members = {str(m.pk): m for m in members}
        member_choices = [
            (pk, f"{m.name}({m.get_relation_display()})") for pk, m in self.members.items()
        ]
        self.fields["met_members"].choices = member_choices
        self.fields["tag_resident"].choices = [("", _("本户(户标签)")), *member_choices]
        self.fields["visitors"].choices = [(str(u.pk), str(u)) for u in colleagues]
        self.tags = {t.code: t for t in Tag.objects.order_by("order", "name")}
        self.fields["tag"].choices = [("", "—")] + [(c, t.name) for c, t in self.tags.items()]
        self.fields["need_category"].choices = [("", _("其他(由乡镇分类)"))] + [
            (str(c.pk), c.name) for c in Category.objects.filter(is_active=True)
        ]

    def clean(self):
        data = super().clean()
        if data.get("tag") and not data.get("tag_date"):
            self.add_error("tag_date", _("请填写认定日期"))
        return data

    def service_kwargs(self) -> dict:
        d = self.cleaned_data
        tags = []
        if d.get("tag"):
            tags.append(
                TagFinding(
                    tag=self.tags[d["tag"]],
                    start_date=d["tag_date"],
                    resident=self.members.get(d.get("tag_resident") or ""),
                )
            )
        return {
            "visited_at": d["visited_at"],
            "place": d["place"],
            "met_members": [int(pk) for pk in d["met_members"]],
            "met_others": d["met_others"],
            "situation": d["situation"],
            "visitors": [int(pk) for pk in d["visitors"]],
            "follow_up_date": d.get("follow_up_date"),
            "tags": tags,
            "needs": [d["need"]] if d.get("need") else [],
            "disputes": [d["dispute"]] if d.get("dispute") else [],
            "need_category": int(d["need_category"]) if d.get("need_category") else None,
            "photos": d.get("photos") or [],
        }


class NoteForm(forms.Form):
    text = forms.CharField(
        label=_("补记内容"), widget=forms.Textarea(attrs={"rows": 3}), max_length=5000
    )


class PeriodForm(forms.Form):
    """An area (or cadre) and a period, for coverage and the visit log."""

    area = forms.ChoiceField(label=_("区域"), required=False)
    start = forms.DateField(label=_("起始日期"), required=False, widget=DATE)
    end = forms.DateField(label=_("截止日期"), required=False, widget=DATE)

    def __init__(self, *args, areas=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["area"].choices = [
            (str(a.pk), "\u3000" * max(a.level - 2, 0) + a.name) for a in areas
        ]

    def period(self):
        today = timezone.localdate()
        d = self.cleaned_data if self.is_bound and self.is_valid() else {}
        start = d.get("start") or today.replace(day=1)
        end = d.get("end") or today
        if end < start:
            start, end = end, start
        return start, end


class SurveyCreateForm(forms.Form):
    title = forms.CharField(label=_("问卷标题"), max_length=100)
    area = forms.ChoiceField(label=_("调查范围"))
    description = forms.CharField(
        label=_("说明"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    questions = forms.CharField(
        label=_("题目"),
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_(
            "每行一题:类型|题目|选项1;选项2。类型:单选、多选、评分(1-5)、满意度(1-5,计入满意度指数)、文字。"
        ),
    )

    def __init__(self, *args, areas=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["area"].choices = [
            (str(a.pk), "\u3000" * max(a.level - 2, 0) + a.name) for a in areas
        ]


class SurveyAnswerForm(forms.Form):
    """The questions of one survey as fields q_<id>; `answers()` is the service's dict."""

    def __init__(self, *args, survey, public=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.survey = survey
        if public:
            self.fields["household_number"] = forms.CharField(label=_("户编号"), max_length=32)
            self.fields["phone_tail"] = forms.CharField(
                label=_("户联系电话后四位"), max_length=4, min_length=4
            )
        scale = [(str(i), str(i)) for i in range(1, 6)]
        for q in survey.questions.all():
            name = f"q_{q.pk}"
            options = [(str(i), label) for i, label in enumerate(q.options)]
            if q.kind == "single":
                field = forms.ChoiceField(choices=options, widget=forms.RadioSelect)
            elif q.kind == "multiple":
                field = forms.MultipleChoiceField(
                    choices=options, widget=forms.CheckboxSelectMultiple
                )
            elif q.kind == "scale":
                field = forms.ChoiceField(choices=scale, widget=forms.RadioSelect)
            else:
                field = forms.CharField(max_length=1000, widget=forms.Textarea(attrs={"rows": 2}))
            field.label = q.text
            field.required = q.required
            self.fields[name] = field

    def answers(self) -> dict:
        return {
            name[2:]: value
            for name, value in self.cleaned_data.items()
            if name.startswith("q_") and value not in (None, "", [])
        }
