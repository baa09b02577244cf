"""The household page's visits section (core.sections, page registry.household).

Two queries whatever the household's history: its latest 20 visits, then in one UNION ALL
(written as SQL) everything they carry (who went, whom they met, what they raised, later
notes, photos), turned into plain lists so the rows render without a related manager per
visit."""

from datetime import UTC, datetime

from django.db import connection
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _

from minqing.core.compiled import rows as compiled_rows
from minqing.core.compiled import scope_values, viewer
from minqing.core.permissions import has_perm
from minqing.core.sections import register_section

VISITS_SHOWN = 20
_PK, _PK2 = 987654321, 987654322  # reversed once, then replaced by each row's keys


# Everything the shown visits carry, in one UNION ALL of seven columns: (visit, kind,
# ordinal, text1..4, time). Written once as SQL: building the five branches through the ORM
# and compiling them was most of the section's time. The notes come first: PostgreSQL types
# each column from the first branch that has it, and the other branches' time is a NULL.
_CARRIED = """
SELECT n.visit_id, 'note', n.id, n.text, u.last_name, u.first_name, u.username, n.created_at
  FROM visits_visitnote n INNER JOIN accounts_user u ON n.author_id = u.id
 WHERE n.visit_id IN ({ids})
UNION ALL
SELECT x.visit_id, 'visitor', x.id, u.last_name, u.first_name, u.username, '', NULL
  FROM visits_visit_visitors x INNER JOIN accounts_user u ON x.user_id = u.id
 WHERE x.visit_id IN ({ids})
UNION ALL
SELECT m.visit_id, 'met', m.resident_id, r.name, '', '', '', NULL
  FROM visits_visit_met_members m INNER JOIN registry_resident r ON m.resident_id = r.id
 WHERE m.visit_id IN ({ids})
UNION ALL
SELECT f.visit_id, 'finding', f.id, f.text, f.kind, r.name, '', NULL
  FROM visits_visitfinding f
  LEFT OUTER JOIN registry_tagperiod p ON f.tag_period_id = p.id
  LEFT OUTER JOIN registry_resident r ON p.resident_id = r.id
 WHERE f.visit_id IN ({ids})
UNION ALL
SELECT p.visit_id, 'photo', p.id, p.original_name, '', '', '', p.uploaded_at
  FROM visits_visitphoto p
 WHERE p.visit_id IN ({ids})
"""


def _when(value):
    """A time from the union as the ORM gives it: aware (SQLite hands back text or a naive
    UTC datetime, PostgreSQL an aware one)."""
    if value is None or isinstance(value, datetime):
        at = value
    else:
        at = parse_datetime(str(value))
    if at is not None and timezone.is_naive(at):
        at = timezone.make_aware(at, UTC)
    return at


def _carried(ids: list[int]) -> list[tuple]:
    """The rows of _CARRIED for these visits (ids from the scoped visit query). The list is
    padded to VISITS_SHOWN with its last id, so a household with 3 visits and one with 17
    run the same statement (the household page prepares it: core.dbcursor.prepared_reads)."""
    ids = [int(i) for i in ids]
    ids += ids[-1:] * (VISITS_SHOWN - len(ids))
    marks = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cur:
        cur.execute(_CARRIED.format(ids=marks), ids * 5)
        rows = cur.fetchall()
    return [(v, kind, o, t1, t2, t3, t4, _when(at)) for v, kind, o, t1, t2, t3, t4, at in rows]


def _user_label(last, first, username):
    return f"{last or ''}{first or ''}".strip() or username  # as User.__str__


def section_visits(*, fetched_by, household, limit: int = VISITS_SHOWN) -> list:
    """The latest visits of one (already scoped) household, each with `url`, `met_names`,
    `visitor_names`, `findings`, `notes` and `photos` as plain lists (two queries)."""
    from .models import Visit, VisitFinding

    def query(values):
        return (
            Visit.objects.visible_to(viewer(values))
            .filter(household_id=values["h"])
            .only("id", "visited_at", "place", "met_others", "situation")
            .order_by("-visited_at", "-id")[:limit]
        )

    # compiled once per connection and shape of scope (core.compiled)
    values = {"h": household.pk, **scope_values(fetched_by)}
    visits = compiled_rows(("household-visits", limit), values, query)
    if not visits:
        return visits
    ids = [v.pk for v in visits]
    rows = _carried(ids)
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
        # the page looked the household up through the viewer's scope (core.sections)
        "surveys": open_surveys_for(fetched_by=request.user, household=household, scoped=True)
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
