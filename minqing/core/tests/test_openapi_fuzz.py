"""Schemathesis against /api/openapi.json: every operation, logged in (a token of a city
administrator), generated valid and invalid input. No 500, every status code documented,
every response matching its schema. New endpoints are covered by being in the document.

Bounded: MINQING_FUZZ_EXAMPLES examples per operation (default 6), well under a minute.
"""

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from minqing.accounts.tokens import api_token_create
from minqing.registry.tests.factories import HouseholdFactory, ResidentFactory
from minqing.wsgi import application  # noqa: F401  (sets up Django)

EXAMPLES = int(os.environ.get("MINQING_FUZZ_EXAMPLES", "6"))


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """Schemathesis calls the WSGI app directly; like Django's test client, keep the request
    signals from closing the test transaction's connection (CONN_MAX_AGE on PostgreSQL)."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_auth(users, tree):
    users.admin.is_superuser = True
    users.admin.save()
    household = HouseholdFactory(grid=tree.grids["七星村1"], number="QX-1")
    ResidentFactory(household=household, name="张德书")
    _, raw = api_token_create(actor=users.admin, user=users.admin, name="schemathesis")
    return {"Authorization": f"Bearer {raw}"}


def _load_schema():
    """The document /api/openapi.json serves (built the same way), calls go to the WSGI app."""
    from minqing.api import api

    loaded = schemathesis.openapi.from_dict(api.get_openapi_schema())
    loaded.app = application
    return loaded


schema = _load_schema()


def test_the_fuzzed_document_is_the_served_one(client, users):
    from minqing.api import api

    client.force_login(users.admin)
    served = client.get("/api/openapi.json").json()["paths"]
    fuzzed = api.get_openapi_schema()["paths"]
    assert {(p, m) for p in served for m in served[p]} == {
        (p, m) for p in fuzzed for m in fuzzed[p]
    }
    assert len(served) >= 20


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_answers_every_input_within_its_schema(case, fuzz_auth):
    # Every check but "schema-valid data must be accepted": business rules (an empty name,
    # a .png for an import, an unknown area) refuse schema-valid input with a documented 400.
    case.call_and_validate(headers=fuzz_auth, excluded_checks=[positive_data_acceptance])
