"""Verification workflow as data: events, 409 on a bad transition, handler, deadline,
reminders, dated notes, statistics kept in step."""

from datetime import timedelta

import pytest

from minqing.conftest import login
from minqing.core.errors import IllegalTransition
from minqing.core.workflow import registered_workflows, workflow_check
from minqing.tips import services
from minqing.tips.models import Tip, TipReminder, TipStat


def _stat(outcome):
    return sum(TipStat.objects.filter(outcome=outcome).values_list("count", flat=True))


def test_full_path_to_a_filed_case(file_tip, officers):
    tip = file_tip().tip
    officer = officers.county
    assert _stat("received") == 1
    tip = services.tip_transition(actor=officer, tip=tip, action="verify", comment="走访")
    assert tip.deadline is not None and tip.deadline > services._today()
    tip = services.tip_transition(actor=officer, tip=tip, action="substantiate")
    tip = services.tip_transition(actor=officer, tip=tip, action="file_case")
    assert tip.state == "filed" and tip.expires_on is not None
    assert [e.action for e in tip.events.all()] == ["create", "verify", "substantiate", "file_case"]
    assert tip.events.get(action="verify").comment == "走访"
    assert _stat("received") == 0 and _stat("filed") == 1
    assert workflow_check(registered_workflows()["tip"]) == []


def test_bad_transition_is_409_and_changes_nothing(client, file_tip, officers):
    tip = file_tip().tip
    with pytest.raises(IllegalTransition):
        services.tip_transition(actor=officers.county, tip=tip, action="file_case")
    login(client, officers.county)
    response = client.post(
        f"/api/tips/{tip.pk}/transition", {"action": "transfer"}, content_type="application/json"
    )
    assert response.status_code == 409
    assert client.post(f"/tips/{tip.pk}/transition/", {"action": "unfound"}).status_code == 409
    tip.refresh_from_db()
    assert tip.state == "received" and tip.events.count() == 1
    assert _stat("received") == 1


def test_handler_deadline_and_notes(client, file_tip, officers):
    tip = file_tip().tip
    login(client, officers.county)
    deadline = services._today() + timedelta(days=10)
    response = client.post(
        f"/api/tips/{tip.pk}/assign",
        {"handler_id": officers.zs.pk, "deadline": deadline.isoformat()},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    tip.refresh_from_db()
    assert tip.handler == officers.zs and tip.deadline == deadline
    # an officer who cannot read the tip cannot handle it
    response = client.post(
        f"/api/tips/{tip.pk}/assign",
        {"handler_id": officers.hl.pk},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert client.post(f"/tips/{tip.pk}/note/", {"body": "约谈知情人"}).status_code == 302
    note = tip.notes.get()
    assert note.body == "约谈知情人" and note.author == officers.county and note.at
    assert client.post(f"/tips/{tip.pk}/note/", {"body": "  "}).status_code == 400
    assert tip.notes.count() == 1


def test_reminders_before_and_after_the_deadline(
    file_tip, officers, django_capture_on_commit_callbacks
):
    tip = file_tip().tip
    today = services._today()
    services.tip_assign(
        actor=officers.county,
        tip=tip,
        handler_id=officers.county.pk,
        deadline=today + timedelta(days=2),
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert services.tips_remind(today=today) == 1
    assert services.tips_remind(today=today) == 0  # once per tip, kind and day
    assert TipReminder.objects.get().kind == "deadline"
    from minqing.core.case_models import Notification

    note = Notification.objects.get(recipient=officers.county)
    assert note.title.startswith(tip.reference) and "保护费" not in note.title + note.body
    services.tips_remind(today=today + timedelta(days=3))
    assert TipReminder.objects.filter(kind="overdue").count() == 1


def test_stats_by_area_and_month(client, users, file_tip, officers, tree):
    for area in (tree.qixing, tree.qixing, tree.helingcun):
        file_tip(area=area)
    tip = Tip.objects.filter(area=tree.qixing).first()
    for action in ("verify", "substantiate", "transfer"):
        tip = services.tip_transition(actor=officers.county, tip=tip, action=action)
    login(client, users.supervisor)
    body = client.get("/api/tips/stats").json()
    assert body["total"] == 3 and body["struck"] == 1
    assert dict(body["by_area"]) == {"昭山镇": 2, "鹤岭镇": 1}
    month = services._today().strftime("%Y-%m")
    assert body["months"] == [month]
    page = client.get("/tips/stats/")
    html = page.content.decode()
    assert 'id="struck">1<' in html
    # the charts draw the same counts as the API (json_script data read by overview.js)
    assert page.context["charts"]["by_area"] == {"labels": ["昭山镇", "鹤岭镇"], "values": [2, 1]}
    assert page.context["charts"]["by_month"] == {"labels": [month], "values": [3]}
    assert 'data-echarts="tips-by-area"' in html and 'id="tips-by-area"' in html
    assert client.get("/tips/stats/?format=xlsx").status_code == 200
