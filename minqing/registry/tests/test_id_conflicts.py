"""No "is this ID registered anywhere" oracle: a 身份证号 registered outside the actor's
jurisdiction is refused without saying where, the conflict is an audit event (actor, masked
number, the other record's area), and one user's repeated conflicts are rate-limited, on
the service path and in the importer."""

import os
import socket
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from minqing.conftest import login
from minqing.core.errors import Conflict, TooManyRequests
from minqing.core.idcard import make_id_number
from minqing.core.imports import import_start
from minqing.core.models import AuditEvent, Job
from minqing.registry import services
from minqing.registry.models import Household, Resident
from minqing.registry.tests.factories import HouseholdFactory, ResidentFactory

CONFLICT = "registry.resident.id_conflict"


def ids(n: int) -> list[str]:
    return [make_id_number("430302", date(1970, 1, 1 + i % 28), i) for i in range(n)]


@pytest.fixture
def registered(tree):
    """Ten people registered in 七星村 (昭山镇), outside the outsider's 鹤岭村."""
    household = HouseholdFactory(grid=tree.grids["七星村1"], number="QX-C1")
    return [
        ResidentFactory(household=household, name=f"居民{i}", id_number=number)
        for i, number in enumerate(ids(10))
    ]


@pytest.fixture
def own_household(tree):
    return HouseholdFactory(grid=tree.grids["鹤岭村1"], number="HL-C1")


def test_conflict_outside_is_refused_audited_and_names_no_place(
    users, tree, registered, own_household
):
    before = Resident.objects.count()
    with pytest.raises(Conflict) as err:
        services.resident_create(
            actor=users.outsider,
            household=own_household,
            name="探测",
            id_number=registered[0].id_number,
        )
    message = str(err.value.message)
    assert "请联系乡镇" in message and "QX-C1" not in message and "居民0" not in message
    assert registered[0].id_number not in message
    assert Resident.objects.count() == before
    event = AuditEvent.objects.get(action=CONFLICT)
    assert event.actor == users.outsider
    assert event.area == tree.grids["七星村1"]  # the supervisors of that area see the probe
    assert event.detail["id_number"] == "430302" + "*" * 12
    assert event.detail["other_area"] == tree.grids["七星村1"].code
    assert event.detail["resident"] == registered[0].pk


def test_conflict_outside_on_update_is_audited_too(users, registered, own_household):
    mine = ResidentFactory(household=own_household, name="本村人")
    with pytest.raises(Conflict):
        services.resident_update(
            actor=users.outsider, resident=mine, id_number=registered[1].id_number
        )
    assert AuditEvent.objects.filter(action=CONFLICT, actor=users.outsider).count() == 1
    mine.refresh_from_db()
    assert mine.id_number != registered[1].id_number


def test_conflict_inside_names_the_household_and_is_not_a_probe(users, registered):
    household = HouseholdFactory(grid=registered[0].household.grid, number="QX-C2")
    with pytest.raises(Conflict) as err:
        services.resident_create(
            actor=users.cadre, household=household, name="重复", id_number=registered[0].id_number
        )
    assert "QX-C1" in str(err.value.message)
    assert not AuditEvent.objects.filter(action=CONFLICT).exists()


def probe(actor, household, numbers):
    """Try each number; the answers an attacker would collect."""
    answers = []
    for number in numbers:
        try:
            services.resident_create(
                actor=actor, household=household, name="探测", id_number=number
            )
        except TooManyRequests:
            answers.append("429")
        except Conflict:
            answers.append("409")
    return answers


def test_repeated_conflicts_from_one_user_are_rate_limited(
    settings, users, registered, own_household
):
    settings.ID_CONFLICT_LIMIT = 3
    answers = probe(users.outsider, own_household, [r.id_number for r in registered[:6]])
    assert answers == ["409", "409", "409", "429", "429", "429"]
    # Past the limit nothing is looked up, so an unregistered number answers the same.
    unregistered = make_id_number("430302", date(1999, 9, 9), 999)
    assert probe(users.outsider, own_household, [unregistered]) == ["429"]
    assert AuditEvent.objects.filter(action=CONFLICT).count() == 3
    assert AuditEvent.objects.filter(action=f"{CONFLICT}_refused").count() == 4
    # Another user is not affected.
    other = HouseholdFactory(grid=registered[0].household.grid, number="QX-C3")
    with pytest.raises(Conflict):
        services.resident_create(
            actor=users.cadre,
            household=other,
            name="x",
            id_number=make_id_number("430302", date(1970, 1, 1), 0),
        )


def test_rate_limit_answers_429_in_the_api(client, settings, users, registered, own_household):
    settings.ID_CONFLICT_LIMIT = 1
    login(client, users.outsider)
    statuses = []
    for r in registered[:3]:
        response = client.post(
            "/api/registry/residents",
            {"household_id": own_household.pk, "name": "探测", "id_number": r.id_number},
            content_type="application/json",
        )
        statuses.append(response.status_code)
        assert r.id_number not in response.content.decode()
    assert statuses == [409, 429, 429]


# Two suites may run side by side (CI runs PostgreSQL and SQLite together): each names its
# own Redis database, since clearing the cache flushes the whole database.
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/2")


def _redis_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _redis_up(), reason="no Redis on 127.0.0.1:6379")
def test_rate_limit_counts_in_redis_too(settings, users, registered, own_household):
    """With REDIS_URL the cache (and so the counter) is shared by every worker process."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "minqing-test-id-conflicts",
        }
    }
    from django.core.cache import cache

    cache.clear()
    settings.ID_CONFLICT_LIMIT = 2
    try:
        answers = probe(users.outsider, own_household, [r.id_number for r in registered[:4]])
        assert answers == ["409", "409", "429", "429"]
    finally:
        cache.clear()


def import_csv(user, numbers) -> Job:
    lines = ["网格,户编号,住址,姓名,身份证号,与户主关系"]
    for i, number in enumerate(numbers):
        lines.append(f"430372101201001,HL-IMP-{i},鹤岭村一组,探测{i},{number},户主")
    upload = SimpleUploadedFile("台账.csv", "\n".join(lines).encode("utf-8"))
    job = import_start(actor=user, kind="registry", upload=upload)
    job.refresh_from_db()
    return job


def test_an_import_probing_ids_leaves_a_trace_per_conflict(users, registered):
    job = import_csv(users.outsider, [r.id_number for r in registered[:3]])
    assert job.status == Job.Status.FAILED
    assert AuditEvent.objects.filter(action=CONFLICT, actor=users.outsider).count() == 3
    assert not Household.objects.filter(number__startswith="HL-IMP").exists()
    for error in job.result["errors"]:
        assert "其他辖区" in " ".join(error["errors"])


def test_an_import_probing_many_ids_is_refused_past_the_limit(settings, users, registered):
    settings.ID_CONFLICT_LIMIT = 5
    job = import_csv(users.outsider, [r.id_number for r in registered])
    assert job.status == Job.Status.FAILED
    assert "冲突次数过多" in job.message
    assert job.result["errors"] == []  # no row says which numbers are registered
    assert AuditEvent.objects.filter(action=CONFLICT).count() == 10
    # The next import is refused before anything is looked up.
    job = import_csv(users.outsider, ids(1))
    assert "冲突次数过多" in job.message
    assert AuditEvent.objects.filter(action=CONFLICT).count() == 10


def test_the_household_page_says_ask_the_township(
    client, settings, users, registered, own_household
):
    settings.ID_CONFLICT_LIMIT = 1
    login(client, users.outsider)
    url = f"/registry/households/{own_household.pk}/members/"
    statuses, pages = [], []
    for r in registered[:2]:
        response = client.post(url, {"name": "探测", "id_number": r.id_number, "relation": "other"})
        statuses.append(response.status_code)
        pages.append(response.content.decode())
        assert "QX-C1" not in pages[-1] and r.name not in pages[-1]  # (the typed number is echoed)
    assert statuses == [409, 429]
    assert "请联系乡镇" in pages[0] and "冲突次数过多" in pages[1]
