"""Coverage against a hand-counted fixture (昭山镇, June 2025):

| household | grid      | visits (local time)                  | tags                        |
| h1        | 七星村1   | 06-03, 06-20                         | 特困, 信访人                |
| h2        | 七星村1   | 05-31 23:50 (before the period)      |                             |
| h3        | 七星村1   | none                                 | 特困                        |
| h4        | 七星村2   | 06-01 00:10, 06-15, 06-29            | 信访人                      |
| h5        | 七星村2   | 07-01 00:05 (after the period)       |                             |
| h6        | 昭山村1   | 06-30 23:30                          | 特困 ended 06-10            |
| h7        | 昭山村1   | none                                 |                             |
| x1        | 鹤岭村1   | 06-10 (another township)             | 特困                        |

Visited 3 of 7 (h1, h4, h6). 特困 monthly asks 1 visit: h1 yes, h3 no (h6 no longer carries
it). 信访人 every 14 days asks ceil(30/14) = 3 visits: h4 yes, h1 no (two).
"""

import io
from datetime import date, datetime

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from minqing.conftest import login
from minqing.registry.tests.factories import period, tag
from minqing.visits.models import VisitRule
from minqing.visits.selectors import coverage

from .factories import household, visit_at

START, END = date(2025, 6, 1), date(2025, 6, 30)


def at(m, d, h=10, mi=0):
    return timezone.make_aware(datetime(2025, m, d, h, mi))


@pytest.fixture
def city(users, tree):
    VisitRule.objects.all().delete()
    rules = {
        "tekun": VisitRule.objects.create(name="特困月访", tag=tag("tekun"), interval_days=30),
        "petitioner": VisitRule.objects.create(
            name="信访人半月访", tag=tag("petitioner"), interval_days=14
        ),
    }
    g = tree.grids
    hh = {
        "h1": household(g["七星村1"]),
        "h2": household(g["七星村1"]),
        "h3": household(g["七星村1"]),
        "h4": household(g["七星村2"]),
        "h5": household(g["七星村2"]),
        "h6": household(g["昭山村1"]),
        "h7": household(g["昭山村1"]),
        "x1": household(g["鹤岭村1"]),
    }
    by = users.admin
    for key, times in {
        "h1": [at(6, 3), at(6, 20)],
        "h2": [at(5, 31, 23, 50)],
        "h4": [at(6, 1, 0, 10), at(6, 15), at(6, 29)],
        "h5": [at(7, 1, 0, 5)],
        "h6": [at(6, 30, 23, 30)],
        "x1": [at(6, 10)],
    }.items():
        for t in times:
            visit_at(hh[key], t, by=by)
    head = {k: h.members.first() for k, h in hh.items()}
    period(tag_code="tekun", resident=head["h1"], start=date(2024, 1, 1))
    period(tag_code="petitioner", resident=head["h1"], start=date(2024, 1, 1))
    period(tag_code="tekun", resident=head["h3"], start=date(2024, 1, 1))
    period(tag_code="petitioner", resident=head["h4"], start=date(2024, 1, 1))
    period(tag_code="tekun", resident=head["h6"], start=date(2024, 1, 1), end=date(2025, 6, 10))
    period(tag_code="tekun", resident=head["x1"], start=date(2024, 1, 1))
    return type("City", (), {"hh": hh, "rules": rules})


def test_coverage_matches_the_hand_count(users, tree, city):
    report = coverage(fetched_by=users.township, area=tree.zhaoshan, start=START, end=END)
    assert (report.total, report.visited, report.unvisited) == (7, 3, 4)
    assert [(r["grid"].name, r["total"], r["visited"]) for r in report.by_grid] == [
        ("七星村第1网格", 3, 1),
        ("七星村第2网格", 2, 1),
        ("昭山村第1网格", 2, 1),
    ]
    assert [(v["area"].name, v["total"], v["visited"]) for v in report.by_village] == [
        ("七星村", 5, 2),
        ("昭山村", 2, 1),
    ]
    by_cadre = {(r["user"].username if r["user"] else None): r for r in report.by_cadre}
    assert (by_cadre["grid"]["total"], by_cadre["grid"]["unvisited"]) == (3, 2)
    assert (by_cadre[None]["total"], by_cadre[None]["unvisited"]) == (4, 2)
    rules = {r["rule"].name: (r["total"], r["required"], r["compliant"]) for r in report.by_rule}
    assert rules == {"特困月访": (2, 1, 1), "信访人半月访": (2, 3, 1)}


def test_coverage_of_a_village_and_the_query_count(users, tree, city, django_assert_num_queries):
    users.cadre.jurisdiction_paths()
    # rules, the one grouped count (with every rule), the grids with their grid workers
    with django_assert_num_queries(3):
        report = coverage(fetched_by=users.cadre, area=tree.qixing, start=START, end=END)
    assert (report.total, report.visited) == (5, 2)
    # the rules and the grids are the process's copies from then on
    with django_assert_num_queries(1):
        again = coverage(fetched_by=users.cadre, area=tree.qixing, start=START, end=END)
    assert (again.total, again.visited) == (5, 2)


def test_a_rule_edit_shows_in_the_next_report(users, tree, city):
    from minqing.visits.services import visit_rule_save

    def rules():
        report = coverage(fetched_by=users.township, area=tree.zhaoshan, start=START, end=END)
        return {r["rule"].name: (r["total"], r["required"], r["compliant"]) for r in report.by_rule}

    assert rules() == {"特困月访": (2, 1, 1), "信访人半月访": (2, 3, 1)}
    rule = city.rules["tekun"]
    visit_rule_save(actor=users.admin, name="特困周访", tag=rule.tag, interval_days=7, rule=rule)
    assert rules() == {"特困周访": (2, 5, 0), "信访人半月访": (2, 3, 1)}
    visit_rule_save(
        actor=users.admin,
        name="特困周访",
        tag=rule.tag,
        interval_days=7,
        is_active=False,
        rule=rule,
    )
    assert rules() == {"信访人半月访": (2, 3, 1)}


def test_coverage_page_chart_and_links(client, users, tree, city):
    login(client, users.township)
    url = reverse("visits:coverage")
    r = client.get(url, {"area": tree.zhaoshan.pk, "start": "2025-06-01", "end": "2025-06-30"})
    assert r.status_code == 200
    html = r.content.decode()
    assert 'id="coverage-data"' in html and "coverage.js" in html
    assert "<script>" not in html  # no inline script (CSP)
    assert "visited=0" in html
    # the unvisited list behind the figure
    r = client.get(
        reverse("visits:coverage_households"),
        {"area": tree.zhaoshan.pk, "start": "2025-06-01", "end": "2025-06-30", "visited": "0"},
    )
    numbers = {h.number for h in r.context["page"]}
    assert numbers == {city.hh[k].number for k in ("h2", "h3", "h5", "h7")}
    r = client.get(
        reverse("visits:coverage_households"),
        {
            "area": tree.zhaoshan.pk,
            "start": "2025-06-01",
            "end": "2025-06-30",
            "rule": city.rules["tekun"].pk,
        },
    )
    assert {h.number for h in r.context["page"]} == {city.hh[k].number for k in ("h1", "h3")}


def test_coverage_xlsx(client, users, tree, city):
    login(client, users.township)
    r = client.get(
        reverse("visits:coverage"),
        {"area": tree.zhaoshan.pk, "start": "2025-06-01", "end": "2025-06-30", "format": "xlsx"},
    )
    assert r.status_code == 200
    ws = load_workbook(io.BytesIO(r.content)).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[-1][:5] == ("合计", None, 7, 3, 4) or rows[-1][2:5] == (7, 3, 4)


def test_coverage_of_an_area_outside_the_jurisdiction_is_404(client, users, tree, city):
    login(client, users.outsider)
    for name in ("visits:coverage", "visits:coverage_households"):
        r = client.get(reverse(name), {"area": tree.zhaoshan.pk})
        assert r.status_code == 404


def test_a_household_visited_before_it_moved_counts_where_it_lives(users, tree, city):
    """The visit was recorded in 鹤岭 (the visit keeps the grid of its day); the household
    now lives in 七星村1: it counts as visited there, and no longer in 鹤岭."""
    from minqing.registry.models import Household

    x1 = city.hh["x1"]
    Household.objects.filter(pk=x1.pk).update(grid=tree.grids["七星村1"])
    report = coverage(fetched_by=users.township, area=tree.qixing, start=START, end=END)
    assert (report.total, report.visited) == (6, 3)
    rules = {r["rule"].name: (r["total"], r["compliant"]) for r in report.by_rule}
    assert rules["特困月访"] == (3, 2)


def test_pairing_rule_compliance_counts_the_cadres_own_visits(users, tree, city):
    from minqing.visits.models import Pairing

    VisitRule.objects.create(name="结对户月访", kind="pairing", interval_days=30)
    h1, h3, h4 = (city.hh[k] for k in ("h1", "h3", "h4"))
    # h1 was visited by admin (the fixture's visitor): paired with admin, compliant;
    # h4 paired with the grid worker, who never went: not compliant; h3 paired with
    # admin but the pairing ended before the period's last day: not covered
    Pairing.objects.create(
        cadre=users.admin, household=h1, start_date=date(2025, 1, 1), created_by=users.admin
    )
    Pairing.objects.create(
        cadre=users.grid, household=h4, start_date=date(2025, 1, 1), created_by=users.admin
    )
    Pairing.objects.create(
        cadre=users.admin,
        household=h3,
        start_date=date(2025, 1, 1),
        end_date=date(2025, 6, 20),
        created_by=users.admin,
    )
    report = coverage(fetched_by=users.township, area=tree.zhaoshan, start=START, end=END)
    rules = {r["rule"].name: (r["total"], r["required"], r["compliant"]) for r in report.by_rule}
    assert rules["结对户月访"] == (2, 1, 1)
    assert rules["特困月访"] == (2, 1, 1)  # the other rules are unchanged


def test_periods_from_a_first_day_read_the_kept_counts_and_others_the_visits(users, tree, city):
    """May to July (the kept monthly counts): h1, h2, h4, h5, h6 visited; 特困 asks
    ceil(92/30) = 4 visits (h1 had 2), 信访人 ceil(92/14) = 7 (h4 had 3). June 1 to 15 (the
    kept counts; h4's and h1's latest June visits are after the 15th: counted by household)
    and June 2 to 16 (the visits themselves): h1 (06-03) and h4 (06-01 00:10 and 06-15
    for the first, 06-15 only for the second)."""
    from minqing.visits.selectors import coverage_sql, required_visits

    def figures(start, end, **kw):
        report = coverage(fetched_by=users.township, area=tree.zhaoshan, start=start, end=end, **kw)
        rules = {
            r["rule"].name: (r["total"], r["required"], r["compliant"]) for r in report.by_rule
        }
        return report.total, report.visited, [r["visited"] for r in report.by_grid], rules

    def reads_kept(start, end):
        rules = list(VisitRule.objects.filter(is_active=True))
        needs = {r.pk: required_visits(start=start, end=end, interval_days=30) for r in rules}
        sql, _ = coverage_sql(
            fetched_by=users.township,
            area=tree.zhaoshan,
            start=start,
            end=end,
            rules=rules,
            needs=needs,
        )
        return "visits_householdmonth" in sql

    quarter = (date(2025, 5, 1), date(2025, 7, 31))
    assert reads_kept(*quarter) and reads_kept(START, END)
    assert figures(*quarter) == (
        7,
        5,
        [2, 2, 1],
        {"特困月访": (2, 4, 0), "信访人半月访": (2, 7, 0)},
    )
    assert figures(*quarter) == figures(*quarter, kept_months=False)
    half = (date(2025, 6, 1), date(2025, 6, 15))
    assert reads_kept(*half)
    assert figures(*half) == (7, 2, [1, 1, 0], {"特困月访": (2, 1, 1), "信访人半月访": (2, 2, 1)})
    assert figures(*half) == figures(*half, kept_months=False)
    later = (date(2025, 6, 2), date(2025, 6, 16))
    assert not reads_kept(*later)
    assert figures(*later) == (7, 2, [1, 1, 0], {"特困月访": (2, 1, 1), "信访人半月访": (2, 2, 0)})
