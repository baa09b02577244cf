"""Questionnaires: built from the administrator's lines, filled during a visit or through
the public link (one answer per household, throttled, refused once closed), aggregated per
area and period, and a satisfaction index per area."""

import pytest
from django.core.cache import cache
from django.urls import reverse

from minqing.conftest import login
from minqing.core.errors import Conflict, NotFoundError, PermissionDeniedError, ValidationFailed
from minqing.visits import selectors, services
from minqing.visits.models import Answer, Survey, SurveyResponse

from .factories import household

LINES = """满意度|您对村里的走访工作满意吗?
单选|家里今年有没有困难?|没有;有一些;很困难
多选|希望村里办哪些事?|修路;路灯;饮水
文字|其他意见"""


@pytest.fixture(autouse=True)
def _clear_throttles():
    cache.clear()


@pytest.fixture
def survey(users, tree):
    return services.survey_create(
        actor=users.township, area=tree.zhaoshan, title="2025 年走访满意度调查", questions=LINES
    )


def qids(survey):
    return [q.pk for q in survey.questions.all()]


def answers(survey, score, single=0, multiple=(0,), text=""):
    a, b, c, d = qids(survey)
    out = {str(a): score, str(b): single, str(c): list(multiple)}
    if text:
        out[str(d)] = text
    return out


def test_survey_questions_from_lines(survey):
    kinds = [(q.kind, q.satisfaction, q.options) for q in survey.questions.all()]
    assert kinds == [
        ("scale", True, []),
        ("single", False, ["没有", "有一些", "很困难"]),
        ("multiple", False, ["修路", "路灯", "饮水"]),
        ("text", False, []),
    ]


@pytest.mark.parametrize(
    "lines, words",
    [("", "至少要有一道题"), ("问答|x", "格式不正确"), ("单选|只有一个选项|是", "两个选项")],
)
def test_bad_survey_is_refused(users, tree, lines, words):
    with pytest.raises(ValidationFailed) as exc:
        services.survey_create(actor=users.township, area=tree.zhaoshan, title="t", questions=lines)
    assert words in str(exc.value.message) and Survey.objects.count() == 0


def test_only_managers_create_and_only_in_their_area(users, tree):
    with pytest.raises(PermissionDeniedError):
        services.survey_create(actor=users.grid, area=tree.qixing, title="t", questions=LINES)
    with pytest.raises(NotFoundError):
        services.survey_create(actor=users.township, area=tree.heling, title="t", questions=LINES)


def test_cadre_fills_once_per_household(users, tree, survey):
    hh = household(tree.grids["七星村1"])
    r = services.survey_answer(
        actor=users.grid, survey=survey, household=hh, answers=answers(survey, 5, text="很好")
    )
    assert r.channel == "visit" and r.answers.count() == 4
    before = Answer.objects.count()
    with pytest.raises(Conflict) as exc:
        services.survey_answer(
            actor=users.grid, survey=survey, household=hh, answers=answers(survey, 1)
        )
    assert "已经答过" in str(exc.value.message) and Answer.objects.count() == before


@pytest.mark.parametrize(
    "bad",
    [
        lambda s: answers(s, 6),  # score out of range
        lambda s: answers(s, 3, single=9),  # no such option
        lambda s: {str(qids(s)[1]): 0},  # required score missing
        lambda s: answers(s, 3) | {"999999": "x"},  # not a question of this survey
    ],
)
def test_bad_answers_are_refused(users, tree, survey, bad):
    hh = household(tree.grids["七星村1"])
    with pytest.raises(ValidationFailed):
        services.survey_answer(actor=users.grid, survey=survey, household=hh, answers=bad(survey))
    assert SurveyResponse.objects.count() == 0 and Answer.objects.count() == 0


def test_answer_to_a_closed_survey_is_refused(users, tree, survey):
    services.survey_close(actor=users.township, survey=survey)
    hh = household(tree.grids["七星村1"])
    with pytest.raises(Conflict) as exc:
        services.survey_answer(
            actor=users.grid, survey=survey, household=hh, answers=answers(survey, 4)
        )
    assert "已结束" in str(exc.value.message) and SurveyResponse.objects.count() == 0


def test_outside_household_or_survey_is_refused(users, tree, survey):
    with pytest.raises(NotFoundError):
        services.survey_answer(
            actor=users.outsider,
            survey=survey,
            household=household(tree.grids["鹤岭村1"]),
            answers=answers(survey, 4),
        )


def test_public_link_one_answer_per_household_and_closed(client, users, tree, survey):
    hh = household(tree.grids["七星村1"])
    hh.phone = "13812345678"
    hh.save()
    url = reverse("visits:survey_public", args=[survey.public_token])
    assert client.get(url).status_code == 200
    data = {"household_number": hh.number, "phone_tail": "5678"}
    a, b, c, d = qids(survey)
    data.update({f"q_{a}": "4", f"q_{b}": "1", f"q_{c}": ["0", "2"]})
    r = client.post(url, data)
    assert r.status_code == 200 and "提交成功" in r.content.decode()
    assert SurveyResponse.objects.get().channel == "public"
    r = client.post(url, data)
    assert r.status_code == 409 and "已经答过" in r.content.decode()
    r = client.post(url, data | {"phone_tail": "0000"})
    assert r.status_code == 400 and "不正确" in r.content.decode()
    services.survey_close(actor=users.township, survey=survey)
    other = household(tree.grids["七星村2"])
    other.phone = "13900001111"
    other.save()
    r = client.post(url, data | {"household_number": other.number, "phone_tail": "1111"})
    assert r.status_code == 409 and "已结束" in r.content.decode()
    assert SurveyResponse.objects.count() == 1
    assert client.get(reverse("visits:survey_public", args=["wrong-token"])).status_code == 404


def test_public_link_is_throttled(client, tree, survey):
    url = reverse("visits:survey_public", args=[survey.public_token])
    codes = [
        client.post(url, {"household_number": "x", "phone_tail": "0000"}).status_code
        for _ in range(12)
    ]
    assert codes[-1] == 429 and codes[0] == 400


def test_results_and_satisfaction_index(users, tree, survey):
    """Hand count: 七星村 scores 5, 4 (index (4.5-1)/4*100 = 87.5); 昭山村 2 (25.0); township
    mean 11/3 → 66.7. The 鹤岭 answer is outside the survey's area and the reader's view."""
    from datetime import timedelta

    from django.utils import timezone

    for grid, score, single in (("七星村1", 5, 0), ("七星村2", 4, 1), ("昭山村1", 2, 1)):
        services.survey_answer(
            actor=users.township,
            survey=survey,
            household=household(tree.grids[grid]),
            answers=answers(survey, score, single=single, multiple=(0, 1)),
        )
    today = timezone.localdate()
    res = selectors.survey_results(
        fetched_by=users.township, survey=survey, area=tree.zhaoshan, start=today, end=today
    )
    assert res["responses"] == 3
    q_scale, q_single, q_multi, q_text = res["questions"]
    assert (q_scale["average"], q_scale["count"]) == (3.67, 3)
    assert [o["count"] for o in q_single["options"]] == [1, 2, 0]
    assert [o["count"] for o in q_multi["options"]] == [3, 3, 0]
    index = selectors.satisfaction_index(
        fetched_by=users.township, area=tree.zhaoshan, start=today, end=today
    )
    assert [(g["area"].name, g["index"], g["n"]) for g in index] == [
        ("昭山镇", 66.7, 3),
        ("七星村", 87.5, 2),
        ("昭山村", 25.0, 1),
    ]
    # the village cadre of 七星村 sees only their village's answers
    res = selectors.survey_results(
        fetched_by=users.cadre, survey=survey, area=tree.qixing, start=today, end=today
    )
    assert res["responses"] == 2
    # a period before the answers has none
    yesterday = today - timedelta(days=1)
    assert (
        selectors.survey_results(
            fetched_by=users.township,
            survey=survey,
            area=tree.zhaoshan,
            start=yesterday,
            end=yesterday,
        )["responses"]
        == 0
    )


def test_pages_and_outsider_404(client, users, tree, survey):
    hh = household(tree.grids["七星村1"])
    login(client, users.grid)
    html = client.get(reverse("registry:household", args=[hh.pk])).content.decode()
    fill = reverse("visits:survey_fill", args=[survey.pk, hh.pk])
    assert fill in html
    a, b, c, d = qids(survey)
    r = client.post(fill, {f"q_{a}": "5", f"q_{b}": "0", f"q_{c}": ["1"]})
    assert r.status_code == 302 and SurveyResponse.objects.count() == 1
    assert fill not in client.get(reverse("registry:household", args=[hh.pk])).content.decode()
    login(client, users.township)
    r = client.get(reverse("visits:survey", args=[survey.pk]), {"area": tree.zhaoshan.pk})
    assert r.status_code == 200 and "满意度指数" in r.content.decode()
    login(client, users.outsider)
    assert client.get(reverse("visits:survey", args=[survey.pk])).status_code == 404
    assert client.post(fill, {f"q_{a}": "5"}).status_code == 404
    assert client.post(reverse("visits:survey_close", args=[survey.pk])).status_code == 404
    assert survey.title not in client.get(reverse("visits:surveys")).content.decode()
    survey.refresh_from_db()
    assert survey.is_open and SurveyResponse.objects.count() == 1


def test_api_answers_results_and_public(client, users, tree, survey):
    hh = household(tree.grids["七星村1"])
    hh.phone = "13812345678"
    hh.save()
    a, b, c, d = qids(survey)
    login(client, users.grid)
    assert [s["id"] for s in client.get("/api/visits/surveys").json()] == [survey.pk]
    body = {"household_id": hh.pk, "answers": {str(a): 5, str(b): 0, str(c): [0, 2]}}
    r = client.post(
        f"/api/visits/surveys/{survey.pk}/responses", body, content_type="application/json"
    )
    assert r.status_code == 201
    r = client.post(
        f"/api/visits/surveys/{survey.pk}/responses", body, content_type="application/json"
    )
    assert r.status_code == 409
    login(client, users.township)
    from django.utils import timezone

    today = timezone.localdate().isoformat()
    r = client.get(
        f"/api/visits/surveys/{survey.pk}/results",
        {"area_id": tree.zhaoshan.pk, "start": today, "end": today},
    ).json()
    assert r["responses"] == 1 and r["satisfaction"][0]["index"] == 100.0
    client.logout()
    other = household(tree.grids["七星村2"])
    other.phone = "13900001111"
    other.save()
    public = {
        "household_number": other.number,
        "phone_tail": "1111",
        "answers": {str(a): 1, str(b): 2, str(c): [1]},
    }
    url = f"/api/visits/public/surveys/{survey.public_token}/responses"
    assert client.post(url, public, content_type="application/json").status_code == 201
    assert client.post(url, public, content_type="application/json").status_code == 409
    login(client, users.outsider)
    assert client.get("/api/visits/surveys").json() == []
    r = client.post(
        f"/api/visits/surveys/{survey.pk}/responses", body, content_type="application/json"
    )
    assert r.status_code == 404
    assert SurveyResponse.objects.count() == 2


def test_open_surveys_of_a_scoped_household_are_those_visible_to_the_viewer(users, tree):
    """The household page leaves Survey.visible_to out (`scoped=True`: it looked the
    household up through the viewer's scope): for every viewer who sees the household,
    the surveys are the same as with the check, surveys of other townships never among
    them."""
    from minqing.registry.models import Household

    hh = household(tree.grids["七星村1"], head="张德书")
    titles = {}
    for key, area in [
        ("city", tree.city),
        ("county", tree.county),
        ("township", tree.zhaoshan),
        ("village", tree.qixing),
        ("grid", tree.grids["七星村1"]),
        ("other grid", tree.grids["七星村2"]),
        ("other township", tree.heling),
        ("other village", tree.helingcun),
    ]:
        titles[key] = services.survey_create(
            actor=users.admin, area=area, title=f"{key} 调查", questions=LINES
        ).title
    outside = {titles["other grid"], titles["other township"], titles["other village"]}
    for viewer in (users.grid, users.cadre, users.township, users.leader, users.admin):
        assert Household.objects.visible_to(viewer).filter(pk=hh.pk).exists()
        with_check = selectors.open_surveys_for(fetched_by=viewer, household=hh)
        scoped = selectors.open_surveys_for(fetched_by=viewer, household=hh, scoped=True)
        assert [s.pk for s in scoped] == [s.pk for s in with_check], viewer
        assert not {s.title for s in scoped} & outside
