"""The PostgreSQL connection settings (README "Production server"): server-side binding
and prepared statements for the pages' short queries."""

import pytest
from django.db import connection

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL connection options"
)


@pytest.mark.django_db
def test_a_repeated_statement_is_prepared_on_the_server():
    from minqing.areas.models import Area

    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_prepared_statements")
        before = cur.fetchone()[0]
    for i in range(6):  # DB_PREPARE_THRESHOLD is 5
        list(Area.objects.filter(code=f"x{i}"))
    with connection.cursor() as cur:
        cur.execute("SELECT statement FROM pg_prepared_statements")
        statements = [row[0] for row in cur.fetchall()]
    assert len(statements) > before
    assert any('"areas_area"."code" = $1' in s for s in statements)


@pytest.mark.django_db
def test_jit_stays_off():
    with connection.cursor() as cur:
        cur.execute("SHOW jit")
        assert cur.fetchone()[0] == "off"
