"""PostgreSQL as Django ships it, with a health check that costs no round trip.

With CONN_HEALTH_CHECKS Django runs `SELECT 1` before the first query of every request on a
kept connection: one more round trip to PostgreSQL per page (and, on a busy machine, one
more wait for the server process to be scheduled). An idle connection in good health has
nothing to read on its socket; one the server ended (a restart, `pg_terminate_backend`, an
idle timeout) has its termination notice or the end of the stream waiting there, or is
already marked bad by psycopg. So the check looks at the connection's state and polls its
socket without waiting: anything unexpected means "not usable" and Django reconnects
(a false alarm only costs a new connection). A peer that vanished without a word (a cut
network) is caught as before Django's checks: the query fails, Django drops the connection
at the end of the request.
"""

import select

from django.db.backends.postgresql import base
from psycopg import pq


class DatabaseOperations(base.DatabaseOperations):
    def last_executed_query(self, cursor, sql, params):
        """The statement as run, for the query log (DEBUG, tests' captured queries): a
        statement prepared on the server (core.dbcursor) has no client-side text, so it is
        composed as Django does with server-side binding."""
        text = super().last_executed_query(cursor, sql, params)
        if text is None and sql is not None:
            try:
                text = self.compose_sql(sql, params)
            except Exception:  # a query log must never fail the query
                return None
        return text


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations

    def is_usable(self):
        conn = self.connection
        if conn is None or conn.closed or conn.broken:
            return False
        try:
            pgconn = conn.pgconn
            if pgconn.status != pq.ConnStatus.OK:
                return False
            poller = select.poll()
            poller.register(pgconn.socket, select.POLLIN | select.POLLPRI)
            return not poller.poll(0)
        except Exception:  # a closed socket, an odd state: reconnect rather than guess
            return False
