"""The household page's visits section (core.sections, page registry.household).

Two queries whatever the household's history: its latest 20 visits, then in one UNION ALL
everything they carry (who went, whom they met, what they raised, later notes, photos),
turned into plain lists so the rows render without a related manager per visit."""

from django.db.models import CharField, DateTimeField, F, Value
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from minqing.core.permissions import has_perm
from minqing.core.sections import register_section

VISITS_SHOWN = 20
_PK, _PK2 = 987654321, 987654322  # reversed once, then replaced by each row's keys


def _cols(qs, *, visit, kind, ordinal, t1="", t2="", t3="", t4="", at=None):
    """One branch of the union: the same seven columns in the same order."""

    def text(value):
        return Value(value, output_field=CharField()) if isinstance(value, str) else value

    return (
        qs.order_by()
        .annotate(
            c_visit=F(visit),
            c_kind=Value(kind, output_field=CharField()),
            c_ord=F(ordinal),
            c_t1=text(t1),
            c_t2=text(t2),
            c_t3=text(t3),
            c_t4=text(t4),
            c_at=Value(None, output_field=DateTimeField()) if at is None else F(at),
        )
        .values_list("c_visit", "c_kind", "c_ord", "c_t1", "c_t2", "c_t3", "c_t4", "c_at")
    )


def _user_label(last, first, username):
    return f"{last or ''}{first or ''}".strip() or username  # as User.__str__


def section_visits(*, fetched_by, household, limit: int = VISITS_SHOWN) -> list:
    """The latest visits of one (already scoped) household, each with `url`, `met_names`,
    `visitor_names`, `findings`, `notes` and `photos` as plain lists (two queries)."""
    from .models import Visit, VisitFinding, VisitNote, VisitPhoto

    visits = list(
        Visit.objects.visible_to(fetched_by)
        .filter(household=household)
        .only("id", "visited_at", "place", "met_others", "situation")
        .order_by("-visited_at", "-id")[:limit]
    )
    if not visits:
        return visits
    ids = [v.pk for v in visits]
    visitor = Visit.visitors.through.objects.filter(visit_id__in=ids)
    met = Visit.met_members.through.objects.filter(visit_id__in=ids)
    # the notes first: PostgreSQL types each column from the first branch that has it, and
    # the other branches' time is a bare NULL
    rows = _cols(
        VisitNote.objects.filter(visit_id__in=ids),
        visit="visit_id",
        kind="note",
        ordinal="id",
        t1=F("text"),
        t2=F("author__last_name"),
        t3=F("author__first_name"),
        t4=F("author__username"),
        at="created_at",
    ).union(
        _cols(
            visitor,
            visit="visit_id",
            kind="visitor",
            ordinal="id",
            t1=F("user__last_name"),
            t2=F("user__first_name"),
            t3=F("user__username"),
        ),
        _cols(met, visit="visit_id", kind="met", ordinal="resident_id", t1=F("resident__name")),
        _cols(
            VisitFinding.objects.filter(visit_id__in=ids),
            visit="visit_id",
            kind="finding",
            ordinal="id",
            t1=F("text"),
            t2=F("kind"),
            t3=F("tag_period__resident__name"),
        ),
        _cols(
            VisitPhoto.objects.filter(visit_id__in=ids),
            visit="visit_id",
            kind="photo",
            ordinal="id",
            t1=F("original_name"),
            at="uploaded_at",
        ),
        all=True,
    )
    visit_url = reverse("visits:visit", args=[_PK])
    photo_url = reverse("visits:photo", args=[_PK, _PK2])
    kinds = {k: str(label) for k, label in VisitFinding.Kind.choices}
    by_id = {}
    for v in visits:
        v.url = visit_url.replace(str(_PK), str(v.pk))
        v.met_names, v.visitor_names, v.findings_shown, v.notes_shown, v.photos_shown = (
            [],
            [],
            [],
            [],
            [],
        )
        v._keys = {"met": [], "visitor": [], "finding": [], "note": [], "photo": []}
        by_id[v.pk] = v
    for visit_id, kind, ordinal, t1, t2, t3, t4, at in rows:
        by_id[visit_id]._keys[kind].append((at, ordinal, t1, t2, t3, t4))
    for v in visits:
        keys = v._keys
        # the orders the prefetches had: members by id, findings by id, notes and photos
        # by time then id, visitors as added
        v.met_names = [t1 for _a, _o, t1, *_r in sorted(keys["met"], key=lambda r: r[1])]
        v.visitor_names = [
            _user_label(t1, t2, t3)
            for _a, _o, t1, t2, t3, _t4 in sorted(keys["visitor"], key=lambda r: r[1])
        ]
        v.findings_shown = [
            {"kind": t2, "label": kinds.get(t2, t2), "text": t1, "resident": t3}
            for _a, _o, t1, t2, t3, _t4 in sorted(keys["finding"], key=lambda r: r[1])
        ]
        v.notes_shown = [
            {"text": t1, "author": _user_label(t2, t3, t4), "at": at}
            for at, _o, t1, t2, t3, t4 in sorted(keys["note"], key=lambda r: (r[0], r[1]))
        ]
        v.photos_shown = [
            {
                "url": photo_url.replace(str(_PK2), str(o)).replace(str(_PK), str(v.pk)),
                "name": t1,
            }
            for at, o, t1, *_r in sorted(keys["photo"], key=lambda r: (r[0], r[1]))
        ]
        del v._keys
    return visits


def _visits(request, household):
    if not has_perm(request.user, "visits.view"):
        return None
    from .selectors import open_surveys_for

    can_record = has_perm(request.user, "visits.record")
    return {
        "visits": section_visits(fetched_by=request.user, household=household),
        "can_record": can_record,
        "surveys": open_surveys_for(fetched_by=request.user, household=household)
        if can_record
        else [],
    }


register_section(
    "registry.household",
    title=_("走访记录"),
    template="visits/_household_section.html",
    context=_visits,
    order=20,
)
