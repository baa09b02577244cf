from django.core.management import call_command

from minqing.appeals.models import Appeal, State
from minqing.core.workflow import registered_workflows, workflow_check


def test_demo_creates_matters_in_every_state_and_is_idempotent(db):
    call_command("demo", stdout=open("/dev/null", "w"))
    states = set(Appeal.objects.values_list("state", flat=True))
    assert states == set(State.values)
    n = Appeal.objects.count()
    assert Appeal.objects.filter(kind="dispute").exists()
    assert Appeal.objects.filter(owner__username="leader").exists()
    assert Appeal.objects.filter(escalations__gt=0).exists()
    assert workflow_check(registered_workflows()["appeal"]) == []
    call_command("demo", stdout=open("/dev/null", "w"))
    assert Appeal.objects.count() == n
