"""Dispatchers' verdicts on proposed duplicates feed back: a confirmed pair links the words
one report has and the other lacks, so a later paraphrase is proposed; a rejected pair
cancels its links and is not proposed again; verdicts teach only those who may see both
matters."""

import json

import pytest

from minqing.appeals import routing
from minqing.appeals.categories import DEFAULT_CATEGORIES
from minqing.appeals.models import DuplicateVerdict
from minqing.appeals.tests.factories import category, file_appeal
from minqing.conftest import login
from minqing.core.models import AuditEvent

LONG = "今年苞米让大风刮倒了一大片"
SHORT = "玉米倒伏了,一大片都起不来"
EARLIER = "苞米刮倒了"
NEW = "玉米倒伏了"


@pytest.fixture(autouse=True)
def _fresh_router():
    routing.forget()
    yield
    routing.forget()


def _score(evidence):
    cats = [(c, f"{n} {d}") for c, n, d, *_ in DEFAULT_CATEGORIES if c != "other"]
    router = routing.Router(cats, [])
    # the earlier matter filed under the new text's likely route: the words decide
    code = router.scores(NEW)[0][0]
    return routing.duplicate_scores(router, [(EARLIER, code)], NEW, evidence=evidence)[0]


def test_a_confirmed_pair_links_its_words_and_a_rejection_cancels_them():
    assert _score(routing.NO_EVIDENCE) < routing.DUPLICATE_THRESHOLD
    confirmed = routing.Evidence([(LONG, SHORT, True)])
    assert "w:玉米" in confirmed.links["w:苞米"]
    assert _score(confirmed) >= routing.DUPLICATE_THRESHOLD
    # the same words judged once the same and once not: no link left
    both = routing.Evidence([(LONG, SHORT, True), (LONG, SHORT, False)])
    assert "w:苞米" not in both.links
    assert _score(both) == _score(routing.NO_EVIDENCE)


def _post(client, pk, other, same):
    return client.post(
        f"/api/appeals/{pk}/duplicates",
        json.dumps({"other_id": other, "same": same}),
        content_type="application/json",
    )


def _suggest(user, area):
    found = routing.duplicate_suggest(
        fetched_by=user, text=NEW, area=area, category_id=category("agriculture").pk
    )
    return [a for a, _s in found]


def test_a_confirmation_in_the_api_makes_a_later_paraphrase_proposed(client, users, tree):
    long = file_appeal(actor=users.cadre, area=tree.qixing, code="agriculture", content=LONG)
    short = file_appeal(actor=users.cadre, area=tree.qixing, code="agriculture", content=SHORT)
    earlier = file_appeal(actor=users.cadre, area=tree.qixing, code="agriculture", content=EARLIER)
    assert earlier not in _suggest(users.cadre, tree.qixing)
    login(client, users.cadre)
    r = _post(client, short.pk, long.pk, True)
    assert r.status_code == 201 and r.json() == {"id": short.pk, "other_id": long.pk, "same": True}
    v = DuplicateVerdict.objects.get()
    assert (v.first_id, v.second_id, v.same, v.decided_by) == (long.pk, short.pk, True, users.cadre)
    assert AuditEvent.objects.filter(action="appeal.duplicate", target_id=str(short.pk)).exists()
    assert earlier in _suggest(users.cadre, tree.qixing)
    # the latest verdict stands: one row per pair, whichever side it is given from
    assert _post(client, long.pk, short.pk, False).status_code == 201
    assert DuplicateVerdict.objects.get().same is False
    assert earlier not in _suggest(users.cadre, tree.qixing)


def test_verdicts_teach_only_users_who_may_see_both_matters(client, users, tree):
    a = file_appeal(actor=users.cadre, area=tree.qixing, code="agriculture", content=LONG)
    b = file_appeal(actor=users.cadre, area=tree.qixing, code="agriculture", content=SHORT)
    login(client, users.cadre)
    assert _post(client, b.pk, a.pk, True).status_code == 201
    assert routing._evidence(users.township)[0].links  # sees 七星村
    assert not routing._evidence(users.outsider)[0].links  # 鹤岭村's cadre does not
    # users who see the same verdicts share what they teach (one copy per process)
    assert routing._evidence(users.leader)[0] is routing._evidence(users.township)[0]
    # and cannot judge them, nor pair a matter of theirs with one they cannot see
    login(client, users.outsider)
    assert _post(client, b.pk, a.pk, True).status_code == 404
    own = file_appeal(actor=users.outsider, area=tree.helingcun, code="agriculture", content=SHORT)
    assert _post(client, own.pk, a.pk, True).status_code == 404
    assert _post(client, own.pk, own.pk, True).status_code == 400
    assert DuplicateVerdict.objects.count() == 1


def _streetlight_pair(users, tree):
    """Two matters of one village saying the same thing in other words (the second in
    dialect): the router proposes the first as the second's duplicate."""
    return [
        file_appeal(actor=users.cadre, area=tree.qixing, code="streetlight", content=text)
        for text in (
            "村口桥头的路灯坏了一个多月,晚上黑漆漆的,老人家不敢出门",
            "桥头那盏路灯一个多月冇亮了,夜里黑得很,老人不敢出来走",
        )
    ]


def test_a_rejected_proposal_is_not_proposed_again(client, users, tree):
    first, second = _streetlight_pair(users, tree)
    login(client, users.cadre)
    body = client.get(f"/api/appeals/{second.pk}/duplicates").json()
    assert [d["id"] for d in body["proposed"]] == [first.pk] and body["judged"] == []
    assert _post(client, second.pk, first.pk, False).status_code == 201
    body = client.get(f"/api/appeals/{second.pk}/duplicates").json()
    assert body["proposed"] == []
    assert body["judged"] == [
        {"id": first.pk, "title": first.title, "state": first.state, "same": False}
    ]
    # a role that does not file matters neither judges nor is shown proposals
    login(client, users.supervisor)
    assert client.get(f"/api/appeals/{second.pk}/duplicates").status_code == 403
    assert _post(client, second.pk, first.pk, True).status_code == 403


def test_the_appeal_page_offers_the_proposals_to_confirm_or_reject(client, users, tree):
    first, second = _streetlight_pair(users, tree)
    url = f"/appeals/{second.pk}/duplicates/"
    login(client, users.cadre)
    page = client.get(f"/appeals/{second.pk}/").content.decode()
    assert f'hx-get="{url}"' in page  # loaded after the page
    body = client.get(url).content.decode()
    assert f"#{first.pk}" in body and "是同一件事" in body
    r = client.post(url, {"other_id": first.pk, "same": "1"})
    assert r.status_code == 200 and "同一件事" in r.content.decode()
    assert DuplicateVerdict.objects.get().same is True
    assert client.post(url, {"other_id": "x", "same": "1"}).status_code == 400
    login(client, users.supervisor)
    assert f'hx-get="{url}"' not in client.get(f"/appeals/{second.pk}/").content.decode()


def test_a_verdict_is_an_event_in_both_timelines_not_on_the_public_page(client, users, tree):
    """The verdict is a workflow note: an event with actor and time in both matters' staff
    timelines (API and page), the state and its time untouched, also on an archived matter;
    never on the resident's tracking page; check_workflows finds no drift."""
    from minqing.appeals.models import State
    from minqing.appeals.tests.test_services import drive
    from minqing.appeals.workflow import APPEAL_FLOW
    from minqing.core.workflow import registered_workflows, workflow_check

    done = drive(
        file_appeal(actor=users.cadre, area=tree.qixing, code="agriculture", content=LONG),
        State.ARCHIVED,
        users,
    )
    fresh = file_appeal(actor=users.cadre, area=tree.qixing, code="agriculture", content=SHORT)
    done.refresh_from_db()
    before = {a.pk: (a.state, a.state_changed_at) for a in (done, fresh)}
    login(client, users.cadre)
    assert _post(client, fresh.pk, done.pk, True).status_code == 201
    for case, mate in ((fresh, done), (done, fresh)):
        case.refresh_from_db()
        assert (case.state, case.state_changed_at) == before[case.pk]
        last = case.events.order_by("-id").first()
        assert (last.action, last.from_state, last.to_state) == (
            "duplicate",
            case.state,
            case.state,
        )
        assert last.actor == users.cadre and last.at is not None
        rows = client.get(f"/api/appeals/{case.pk}/timeline").json()
        assert rows[-1]["title"] == "判断重复"
        assert rows[-1]["text"] == f"与诉求 #{mate.pk} 是同一件事"
        assert rows[-1]["actor"] == last.actor_label
    page = client.get(f"/appeals/{fresh.pk}/").content.decode()
    assert "判断重复" in page and f"与诉求 #{done.pk} 是同一件事" in page
    assert _post(client, done.pk, fresh.pk, False).status_code == 201
    assert client.get(f"/api/appeals/{fresh.pk}/timeline").json()[-1]["text"] == (
        f"与诉求 #{done.pk} 不是同一件事"
    )
    # one audit row per verdict, as before (the events carry no second one)
    assert AuditEvent.objects.filter(action__startswith="appeal.duplicate").count() == 2
    # the resident sees no verdict, nor the other matter's number
    client.logout()
    track = client.get(f"/api/appeals/public/track/{fresh.tracking_code}").json()
    assert [e["title"] for e in track["timeline"]] == ["受理"]
    assert f"#{done.pk}" not in json.dumps(track, ensure_ascii=False)
    assert workflow_check(registered_workflows()[APPEAL_FLOW.name]) == []


def test_a_refused_verdict_writes_no_event(client, users, tree):
    a = file_appeal(actor=users.cadre, area=tree.qixing, code="agriculture", content=LONG)
    b = file_appeal(actor=users.cadre, area=tree.qixing, code="agriculture", content=SHORT)
    login(client, users.supervisor)
    assert _post(client, b.pk, a.pk, True).status_code == 403
    login(client, users.outsider)
    assert _post(client, b.pk, a.pk, True).status_code == 404
    assert not a.events.filter(action="duplicate").exists()
    assert not b.events.filter(action="duplicate").exists()


@pytest.mark.parametrize("url", ["/api/appeals/{pk}/duplicates", "/appeals/{pk}/duplicates/"])
def test_duplicates_answer_404_when_the_matters_area_vanishes_mid_request(
    client, users, tree, monkeypatch, url
):
    """A grid's matter: its village (the area the proposals look in) goes while the request
    runs (a database restored under a running server, as the browser tests do): 404 like
    any vanished matter, not 500."""
    from django.db import connection

    from minqing.appeals import selectors
    from minqing.areas.models import Area

    appeal = file_appeal(actor=users.cadre, area=tree.grids["七星村1"], content=SHORT)
    verdicts = selectors.duplicate_verdicts

    def vanishing(**kw):
        with connection.cursor() as cur:  # the constraints are checked at commit: none here
            cur.execute("DELETE FROM areas_area WHERE id = %s", [tree.qixing.pk])
        return verdicts(**kw)

    monkeypatch.setattr(selectors, "duplicate_verdicts", vanishing)
    login(client, users.cadre)
    row = Area.objects.filter(pk=tree.qixing.pk).values().get()
    assert client.get(url.format(pk=appeal.pk)).status_code == 404
    Area.objects.bulk_create([Area(**row)])  # back before the test's constraints are checked
