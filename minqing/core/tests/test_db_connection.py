"""The PostgreSQL connection settings (README "Production server"): JIT off; with
DB_SERVER_SIDE_BINDING=1 DB_PREPARE_THRESHOLD=5, repeated statements prepared on the server."""

import pytest
from django.conf import settings
from django.db import connection

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL connection options"
)


@pytest.mark.django_db
@pytest.mark.skipif(
    not settings.DATABASES["default"]["OPTIONS"].get("prepare_threshold"),
    reason="DB_PREPARE_THRESHOLD unset (prepared statements are opt-in)",
)
def test_a_repeated_statement_is_prepared_on_the_server():
    from minqing.areas.models import Area

    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_prepared_statements")
        before = cur.fetchone()[0]
    for i in range(settings.DATABASES["default"]["OPTIONS"]["prepare_threshold"] + 1):
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


@pytest.mark.django_db
def test_the_health_check_sends_nothing_and_sees_an_ended_connection(monkeypatch):
    """core.pgbackend: a kept connection is checked before a request's first query without
    a `SELECT 1`; one the server ended (a restart, an idle timeout) is replaced."""
    import time

    from django.db import connections

    kept = connections.create_connection("default")
    try:
        kept.ensure_connection()
        with monkeypatch.context() as m:
            m.setattr(kept.connection, "execute", None)  # any query would fail the check
            m.setattr(kept.connection, "cursor", None)
            assert kept.is_usable()
        with connection.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(%s)", [kept.connection.info.backend_pid])
        for _ in range(50):
            if not kept.is_usable():
                break
            time.sleep(0.02)
        assert not kept.is_usable()
        kept.health_check_enabled, kept.health_check_done = True, False
        with kept.cursor() as cur:  # the check closes it, the cursor opens a new one
            cur.execute("SELECT 1")
            assert cur.fetchone() == (1,)
    finally:
        kept.close()


def _prepared_count() -> int:
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_prepared_statements")
        return cur.fetchone()[0]


@pytest.mark.django_db
@pytest.mark.parametrize("on", [True, False])
def test_prepared_cursor_prepares_unless_switched_off(settings, on):
    """core.dbcursor.prepared_cursor (intake's statement): prepared on the server on its
    first run; DB_PREPARED_WRITES=0 (pgbouncer in transaction mode) prepares nothing."""
    from minqing.core.dbcursor import prepared_cursor

    settings.DB_PREPARED_WRITES = on
    before = _prepared_count()
    for _ in range(2):
        with prepared_cursor() as cur:
            cur.execute("SELECT %s::int + 41", [1])
            assert cur.fetchone()[0] == 42
    assert _prepared_count() == before + (1 if on else 0)


def test_the_switch_is_read_from_the_environment(monkeypatch):
    import importlib

    import minqing.settings as project_settings

    monkeypatch.setenv("DB_PREPARED_WRITES", "0")
    try:
        assert importlib.reload(project_settings).DB_PREPARED_WRITES is False
    finally:
        monkeypatch.delenv("DB_PREPARED_WRITES")
        importlib.reload(project_settings)
    assert project_settings.DB_PREPARED_WRITES is True


@pytest.mark.django_db
@pytest.mark.parametrize("on", [True, False])
def test_prepared_reads_prepare_the_orm_statements_inside_only(settings, on):
    """core.dbcursor.prepared_reads (the household page): the ORM's statements run inside
    are prepared on the server, those after it are not; DB_PREPARED_WRITES=0 prepares none."""
    from minqing.areas.models import Area
    from minqing.core.dbcursor import prepared_reads

    settings.DB_PREPARED_WRITES = on
    before = _prepared_count()
    with prepared_reads():
        for code in ("a", "b"):
            list(Area.objects.filter(code=code))
    list(Area.objects.filter(name="outside"))
    with connection.cursor() as cur:
        cur.execute("SELECT statement FROM pg_prepared_statements")
        statements = [row[0] for row in cur.fetchall()]
    assert _prepared_count() == before + (1 if on else 0)
    assert any('"areas_area"."code" = $1' in s for s in statements) is on
    assert not any('"areas_area"."name" = $1' in s for s in statements)


@pytest.mark.django_db
def test_prepared_cursor_is_kept_per_connection_and_replaced_with_it(settings):
    """The driver's cursor (and its adapters) serves the connection's next prepared
    statement; a new connection gets a new cursor, and a failed statement spoils nothing."""
    from django.db import IntegrityError, connections

    from minqing.core.dbcursor import prepared_cursor

    settings.DB_PREPARED_WRITES = True
    conn = connections.create_connection("default")
    try:
        raws = []
        for i in range(2):
            with prepared_cursor(conn) as cur:
                cur.execute("SELECT %s::int + 41", [i])
                assert cur.fetchone()[0] == 41 + i
                raws.append(cur.cursor)
        assert raws[0] is raws[1] and not raws[0].closed
        with pytest.raises(IntegrityError), prepared_cursor(conn) as cur:
            cur.execute("CREATE TEMP TABLE t (i int PRIMARY KEY)")
            cur.execute("INSERT INTO t VALUES (%s), (%s)", [1, 1])
        with prepared_cursor(conn) as cur:
            cur.execute("SELECT %s::int + 41", [2])
            assert cur.fetchone()[0] == 43
            assert cur.cursor is raws[0]
        conn.close()
        with prepared_cursor(conn) as cur:
            cur.execute("SELECT %s::int + 41", [3])
            assert cur.fetchone()[0] == 44
            assert cur.cursor is not raws[0]
    finally:
        conn.close()


@pytest.mark.django_db
def test_prepared_reads_cursors_close_as_usual(settings):
    """Only prepared_cursor's own cursor is kept open between statements; the ORM's
    cursors inside prepared_reads close when the ORM is done with them."""
    from minqing.core.dbcursor import prepared_reads

    settings.DB_PREPARED_WRITES = True
    with prepared_reads():
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
            raw = cur.cursor
    assert raw.closed
