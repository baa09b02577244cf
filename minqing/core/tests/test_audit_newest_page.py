"""The audit page without filters reads its newest events from a statement compiled once
per shape (core.views._audit_newest_page): the same rows, values and page as the filtered
path (audit_filter, the ORM) for every viewer, administrators' area-less events included,
and still refused to roles that may not read the log."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db.models import F

from minqing.accounts.tests.factories import UserFactory
from minqing.conftest import login
from minqing.core import statements
from minqing.core.audit import audit_filter
from minqing.core.models import AuditEvent
from minqing.core.views import AUDIT_PAGE, AUDIT_ROW_FIELDS, _audit_newest_page, audit_keyset_page

HOSTILE = '<script>alert("x")</script> & \'\\ %_'
START = datetime(2025, 6, 30, 23, 0, tzinfo=UTC)


@pytest.fixture
def log(tree, users):
    areas = [tree.grids["七星村1"], tree.qixing, tree.zhaoshan, tree.helingcun, tree.county, None]
    details = [{}, {"reason": HOSTILE}, {"n": 3, "list": [1, "二"]}, "just text", None, {"x": None}]
    events = []
    for i in range(3 * AUDIT_PAGE):
        events.append(
            AuditEvent(
                # some share a time: the id breaks the tie, as the page orders them
                at=START - timedelta(minutes=i // 2),
                actor=users.grid if i % 3 else None,
                actor_label=HOSTILE if i % 7 == 0 else f"user{i}",
                action=["registry.household_view", "registry.reveal_id", "auth.login"][i % 3],
                target_type=["household", "", "resident"][i % 3],
                target_id=str(i) if i % 3 != 1 else "",
                target_repr=HOSTILE if i % 5 == 0 else f"对象{i}",
                area=areas[i % len(areas)],
                source_address=["10.0.0.1", None, "2001:db8::1"][i % 3],
                channel="web",
                detail=details[i % len(details)] if details[i % len(details)] is not None else {},
            )
        )
    AuditEvent.objects.bulk_create(events)


def _orm_page(user):
    qs = (
        audit_filter(user, {})
        .select_related(None)
        .only(*AUDIT_ROW_FIELDS)
        .annotate(area_name=F("area__name"))
    )
    rows, _newer, older = audit_keyset_page(qs, {})
    return rows, older


FIELDS = ("pk", "at", "actor_label", "action", "target_type", "target_id", "target_repr")
FIELDS += ("area_id", "area_name", "source_address", "detail")


def _values(rows):
    return [tuple(getattr(r, f) for f in FIELDS) for r in rows]


def _no_token(html: str) -> str:
    """The page without its CSRF token (masked afresh on every response)."""
    return re.sub(r'(csrfmiddlewaretoken" value="|X-CSRFToken": ")[^"]+', r"\1", html)


def _viewers(users, tree):
    root = UserFactory(username="root", is_superuser=True, areas=[])
    township_sup = UserFactory(username="tsup", role="supervisor", areas=[tree.zhaoshan])
    return [users.supervisor, users.admin, root, township_sup]


def test_the_newest_page_is_the_filtered_paths_page(users, tree, log):
    statements._compiled.clear()
    for user in _viewers(users, tree):
        want, older = _orm_page(user)
        got = _audit_newest_page(user)
        assert _values(got[:AUDIT_PAGE]) == _values(want), user.username
        assert (len(got) > AUDIT_PAGE) == (older is not None)


def test_the_page_over_http_is_the_same_page(client, users, tree, log):
    """The unfiltered page and the same page asked with an empty filter (the ORM's way)
    differ only in that filter's name in the pager's links."""
    for user in _viewers(users, tree):
        login(client, user)
        for language in ("zh-hans", "en"):
            fast = client.get("/core/audit/", HTTP_ACCEPT_LANGUAGE=language)
            slow = client.get("/core/audit/", {"actor": ""}, HTTP_ACCEPT_LANGUAGE=language)
            assert fast.status_code == slow.status_code == 200
            html = slow.content.decode().replace('/core/audit/?actor="', '/core/audit/"')
            html = html.replace("?actor=&amp;", "?").replace("?actor=&", "?")
            assert _no_token(fast.content.decode()) == _no_token(html), user.username
            assert "<script>alert" not in html


def test_an_administrator_reads_the_events_of_no_area_others_do_not(users, tree, log):
    statements._compiled.clear()
    admin_rows = _audit_newest_page(users.admin)
    assert any(r.area_id is None for r in admin_rows)
    for user in (
        users.supervisor,
        UserFactory(username="s2", role="supervisor", areas=[tree.county]),
    ):
        rows = _audit_newest_page(user)
        assert rows and all(r.area_id is not None for r in rows)
    # a viewer holding another township's area reads only that township's events
    tsup = UserFactory(username="tsup2", role="supervisor", areas=[tree.helingcun])
    rows = _audit_newest_page(tsup)
    assert rows and {r.area_id for r in rows} == {tree.helingcun.pk}


def test_roles_without_the_audit_right_are_refused(client, users, log):
    for user in (users.grid, users.cadre, users.township):
        login(client, user)
        assert client.get("/core/audit/").status_code == 403
        assert client.get("/core/audit/", {"page": "2"}).status_code == 403
