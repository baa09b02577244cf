"""A cursor whose parameters the server binds, for the few statements that send one big
parameter (a batch as one JSON string): psycopg's client-side binding (Django's default
cursor here, see settings `DB_SERVER_SIDE_BINDING`) quotes the whole string in Python,
~1.5 ms per 50 kB; bound by the server it is sent as is. Elsewhere the default cursor."""

from contextlib import contextmanager
from functools import lru_cache

from django.db import DEFAULT_DB_ALIAS, connection, connections


def server_bound_cursor():
    """Use as `with server_bound_cursor() as cur:`; queries are logged and errors wrapped
    like any Django cursor's. Placeholders stay `%s`."""
    if connection.vendor != "postgresql" or connection.settings_dict["OPTIONS"].get(
        "server_side_binding"
    ):
        return connection.cursor()
    from django.db.backends.postgresql.base import ServerBindingCursor

    connection.ensure_connection()
    with connection.wrap_database_errors:
        raw = ServerBindingCursor(connection.connection)
    return connection._prepare_cursor(raw)


# psycopg counts executions towards preparing only while the connection has a threshold;
# this one is never reached, so only the statements `prepared_cursor` runs are prepared.
_NEVER = 2**62


# The texts of the statements run prepared, one string object per text: psycopg keeps a
# cursor's adapters (a dumper per parameter type, found by walking the type's classes when
# it is a subclass such as a TextChoices member) only while the cursor runs the very same
# query object again. Few texts (intake's statement in a handful of NULL patterns).
_TEXTS: dict[str, str] = {}
_MAX_TEXTS = 256


@lru_cache(maxsize=1)
def _preparing_class():
    from django.db.backends.postgresql.base import ServerBindingCursor
    from psycopg._queries import PostgresQuery, PostgresRawQuery

    class PreparingCursor(ServerBindingCursor):
        def execute(self, query, params=None, *, prepare=None, binary=None):
            if type(query) is str:
                kept = _TEXTS.get(query)
                if kept is None and len(_TEXTS) < _MAX_TEXTS:
                    kept = _TEXTS[query] = query
                query = kept or query
            # a text already in $n placeholders, kept by its owner (RawStatement): sent as
            # is, any number of parameters, no conversion of %s by the driver
            self._query_cls = PostgresRawQuery if isinstance(query, bytes) else PostgresQuery
            conn = self.connection
            threshold = conn.prepare_threshold
            if threshold is None:  # Django's default: psycopg prepares nothing
                conn.prepare_threshold = _NEVER
            try:
                return super().execute(query, params, prepare=True, binary=binary)
            finally:
                conn.prepare_threshold = threshold

    return PreparingCursor


@lru_cache(maxsize=1)
def _kept_class():
    class KeptCursor(_preparing_class()):
        def close(self):
            """Kept open for the connection's next request (`prepared_cursor`); it goes
            with its connection. (The ORM's cursors inside `prepared_reads` close as usual.)"""

    return KeptCursor


def prepared_cursor(db=None):
    """A cursor whose statements are prepared on the server on their first run and reused
    on that connection (psycopg's cache of prepared statements, up to 100 per connection):
    PostgreSQL parses and plans them once, not on every run. For the few hot writes whose
    plan cannot depend on the parameters (intake's one INSERT statement, core.workflow) and
    the list pages' reads of their rows' details by id (`ids_condition`); the scoped page
    queries keep planning each run (settings `DB_PREPARE_THRESHOLD`: a generic plan
    does not suit the scoping filters). `DB_PREPARED_WRITES=0` in the environment (behind
    pgbouncer in transaction mode without `max_prepared_statements`) gives the plain cursor.
    Use as `with prepared_cursor() as cur:`; queries are logged and errors wrapped like any
    Django cursor's. Placeholders stay `%s`. `db`: a connection (default: the default one).

    The driver's cursor is kept on the connection and used again by its next statement: a
    new one costs as much client CPU as running intake's statement (its parameters' adapters
    looked up afresh, ~0.2 ms a request)."""
    from django.conf import settings

    db = db or connections[DEFAULT_DB_ALIAS]
    if db.vendor != "postgresql" or not getattr(settings, "DB_PREPARED_WRITES", True):
        return db.cursor()
    db.close_if_health_check_failed()
    db.ensure_connection()
    raw = db.connection
    kept = getattr(db, "_minqing_prepared_cursor", None)
    if kept is None or kept[0] is not raw or kept[1].closed:
        with db.wrap_database_errors:
            kept = (raw, _kept_class()(raw))
        db._minqing_prepared_cursor = kept
    return db._prepare_cursor(kept[1])


def ids_condition(column: str, ids) -> tuple[str, list]:
    """`column` is one of `ids`, as SQL and its parameters, with one statement text for
    any number of ids on PostgreSQL (an array: prepared once, see prepared_cursor), an
    IN list elsewhere. `column` is the caller's own SQL, never user input."""
    ids = [int(i) for i in ids]
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s::bigint[])", [ids]
    return f"{column} IN ({', '.join(['%s'] * len(ids))})", ids


def _prepared_on() -> bool:
    from django.conf import settings

    return connection.vendor == "postgresql" and getattr(settings, "DB_PREPARED_WRITES", True)


@contextmanager
def prepared_reads():
    """Every statement run inside (the ORM's too) is prepared on the server on its first run
    on the connection and reused after, as `prepared_cursor` does: PostgreSQL parses it once
    and, once it settles on a generic plan, stops planning it. Only for statements keyed by
    one row's id (the household page: the household by its id, then its members, tags,
    visits, appeals by household id), whose best plan is the same whatever the values: a
    generic plan of a jurisdiction filter alone (`path LIKE $1`) cannot use the path index
    (README "Production server"), so lists and sums stay outside. Switched off with
    `DB_PREPARED_WRITES=0` (pgbouncer in transaction mode), and on SQLite."""
    if not _prepared_on():
        yield
        return
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    raw = connection.connection
    kept = raw.cursor_factory
    raw.cursor_factory = _preparing_class()
    try:
        yield
    finally:
        raw.cursor_factory = kept
