"""Two cadres claim one matter at the same moment: exactly one wins (real PostgreSQL
transactions on two connections; the loser gets 409 and nothing of theirs is written)."""

import threading

import pytest
from django.db import close_old_connections, connection

from minqing.appeals.models import Appeal, AppealEvent
from minqing.appeals.services import appeal_claim
from minqing.appeals.tests.factories import file_appeal
from minqing.core.errors import IllegalTransition

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture(autouse=True)
def _only_postgres():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks")


def test_two_claims_at_once_exactly_one_wins(users, tree):
    for round_ in range(5):
        appeal = file_appeal(actor=users.cadre, area=tree.grids["七星村1"])
        barrier = threading.Barrier(2)
        results = {}

        def claim(user, barrier=barrier, appeal=appeal, results=results):
            try:
                barrier.wait()
                appeal_claim(actor=user, appeal=Appeal(pk=appeal.pk))
                results[user.username] = "won"
            except IllegalTransition as exc:
                results[user.username] = exc.status
            except Exception as exc:  # anything else fails the test below
                results[user.username] = repr(exc)
            finally:
                close_old_connections()

        threads = [threading.Thread(target=claim, args=(u,)) for u in (users.cadre, users.grid)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results.values(), key=str) == [409, "won"], (round_, results)
        winner = next(name for name, r in results.items() if r == "won")
        stored = Appeal.objects.select_related("owner").get(pk=appeal.pk)
        assert stored.state == "claimed" and stored.owner.username == winner
        assert AppealEvent.objects.filter(appeal=appeal, action="claim").count() == 1
