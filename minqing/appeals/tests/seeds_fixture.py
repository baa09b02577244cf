"""Autouse fixture shared by the appeals and core test packages (imported by their
conftest.py): the seed rows of the migrations, back after a transactional test flushed."""

import pytest


@pytest.fixture(autouse=True)
def _seeds(request):
    names = set(request.fixturenames)
    marker = request.node.get_closest_marker("django_db")
    if not ({"db", "transactional_db"} & names or marker):
        return
    transactional = (
        "transactional_db" in names
        or "live_server" in names
        or (marker is not None and marker.kwargs.get("transaction"))
    )
    request.getfixturevalue("transactional_db" if transactional else "db")
    from minqing.appeals.seeds import ensure_seeds

    ensure_seeds()
