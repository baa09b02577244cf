"""A job whose worker died ends as failed instead of spinning for ever (core.jobs)."""

import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from minqing.conftest import login
from minqing.core.jobs import alive, heartbeat, interrupt_stale
from minqing.core.models import Job


def running(user, *, kind="registry", beat_ago=None, created_ago=None, status=None):
    job = Job.objects.create(
        kind=kind, created_by=user, status=status or Job.Status.RUNNING, total=100, done=40
    )
    now = timezone.now()
    fields = {}
    if beat_ago is not None:
        fields["heartbeat_at"] = now - beat_ago
    if created_ago is not None:
        fields["created_at"] = now - created_ago
    if fields:
        Job.objects.filter(pk=job.pk).update(**fields)
    job.refresh_from_db()
    return job


def test_a_running_job_with_a_recent_beat_is_left_alone(users, settings):
    settings.JOB_STALE_SECONDS = 300
    job = running(users.cadre, beat_ago=timedelta(seconds=30), created_ago=timedelta(hours=2))
    assert alive(job).status == Job.Status.RUNNING
    assert interrupt_stale() == 0
    job.refresh_from_db()
    assert job.status == Job.Status.RUNNING


def test_a_running_job_without_a_beat_for_too_long_ends_failed_in_plain_words(users, settings):
    settings.JOB_STALE_SECONDS = 300
    job = running(users.cadre, beat_ago=timedelta(minutes=6))
    shown = alive(job)
    assert shown.status == Job.Status.FAILED and "中断" in shown.message
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and job.finished_at is not None
    assert "未导入任何数据" in job.message


def test_an_export_says_export(users, settings):
    job = running(users.township, kind="registry.export", beat_ago=timedelta(hours=1))
    assert "导出被中断" in alive(job).message


def test_a_job_that_never_beat_is_judged_by_its_start(users, settings):
    settings.JOB_STALE_SECONDS = 300
    fresh = running(users.cadre, created_ago=timedelta(seconds=10))
    assert alive(fresh).status == Job.Status.RUNNING
    old = running(users.cadre, created_ago=timedelta(minutes=10))
    assert alive(old).status == Job.Status.FAILED


def test_a_beat_that_lands_meanwhile_wins(users, settings):
    """The page read a stale copy, but the worker beat just after: not ended."""
    settings.JOB_STALE_SECONDS = 300
    job = running(users.cadre, beat_ago=timedelta(minutes=10))
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now())
    shown = alive(job)  # `job` still holds the old stamp
    assert shown.status == Job.Status.RUNNING
    job.refresh_from_db()
    assert job.status == Job.Status.RUNNING


@pytest.mark.parametrize("status", [Job.Status.PREVIEW, Job.Status.DONE, Job.Status.CANCELLED])
def test_jobs_not_running_are_never_touched(users, status):
    job = running(users.cadre, status=status, beat_ago=timedelta(days=3))
    assert alive(job).status == status
    assert interrupt_stale() == 0


def test_the_sweep_ends_stale_never_beaten_and_never_picked_up_jobs(users, settings):
    settings.JOB_STALE_SECONDS = 300
    stale = running(users.cadre, beat_ago=timedelta(minutes=30))
    never = running(users.cadre, kind="registry.export", created_ago=timedelta(minutes=30))
    queued = running(users.cadre, status=Job.Status.PENDING, created_ago=timedelta(hours=13))
    waiting = running(users.cadre, status=Job.Status.PENDING, created_ago=timedelta(minutes=30))
    live = running(users.cadre, beat_ago=timedelta(seconds=5))
    assert interrupt_stale() == 3
    status = dict(Job.objects.values_list("pk", "status"))
    assert status[stale.pk] == status[never.pk] == status[queued.pk] == Job.Status.FAILED
    assert status[waiting.pk] == Job.Status.PENDING and status[live.pk] == Job.Status.RUNNING
    assert "导出被中断" in Job.objects.get(pk=never.pk).message


def test_the_job_page_and_the_api_stop_polling_a_dead_job(client, users, settings):
    settings.JOB_STALE_SECONDS = 300
    job = running(users.cadre, beat_ago=timedelta(minutes=20))
    login(client, users.cadre)
    page = client.get(f"/core/jobs/{job.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert "中断" in page and "every 1s" not in page
    job = running(users.cadre, beat_ago=timedelta(minutes=20))
    body = client.get(f"/api/core/jobs/{job.pk}").json()
    assert body["status"] == "failed" and "中断" in body["message"]


def test_another_users_dead_job_is_not_found_and_not_touched(client, users, settings):
    job = running(users.cadre, beat_ago=timedelta(hours=1))
    login(client, users.outsider)
    assert client.get(f"/core/jobs/{job.pk}/").status_code == 404
    job.refresh_from_db()
    assert job.status == Job.Status.RUNNING  # only its owner's look (or the sweep) ends it


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_heartbeat_keeps_a_long_silent_step_alive(settings):
    """Work with no progress for longer than the stale limit is not taken for dead."""
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        # shared-cache in-memory SQLite locks whole tables between the two threads
        pytest.skip("needs a database two connections can share")
    from minqing.accounts.tests.factories import UserFactory

    settings.JOB_STALE_SECONDS = 1
    job = running(UserFactory(username="beat"))
    with heartbeat(job.pk, every=0.1):
        time.sleep(1.6)  # longer than the stale limit, no progress written
        job.refresh_from_db()
        assert alive(job).status == Job.Status.RUNNING
    first = job.heartbeat_at
    assert first is not None and timezone.now() - first < timedelta(seconds=1)
    time.sleep(1.2)  # the block ended: no more beats, so it goes stale
    job.refresh_from_db()
    assert job.heartbeat_at == first
    assert alive(job).status == Job.Status.FAILED


def test_an_import_run_stamps_its_job(users, tree):
    """The real first user: the importer's run beats (here inline, as in tests)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from minqing.core.imports import import_start

    upload = SimpleUploadedFile("台账.csv", "网格,户编号,住址,姓名,身份证号,与户主关系\n".encode())
    job = import_start(actor=users.cadre, kind="registry", upload=upload)
    job.refresh_from_db()
    assert job.heartbeat_at is not None
