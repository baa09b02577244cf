"""Print the SQL that gives the runtime database role what the app needs, and no more.

In production two PostgreSQL roles are used: the owner role runs `minqing migrate` and owns
every table; the runtime role (the one in the web and worker DATABASE_URL) gets DML
privileges only. It does not own the audit table, so it can neither TRUNCATE it nor
disable its append-only trigger, and it gets no UPDATE or DELETE on it at all.

    minqing db_grants --runtime minqing_app | psql -U minqing_owner minqing
"""

from django.core.management.base import BaseCommand
from django.db import connection

from minqing.core.models import AuditEvent

# Tables created by migrations without a model: the registry's change log (its trigger
# adds a row for every statement writing to the registry; imports read and purge it).
RAW_TABLES = ("minqing_registry_change",)


def grant_statements(runtime: str, *, owner: str | None, database: str) -> list[str]:
    audit = AuditEvent._meta.db_table
    tables = sorted(t for t in connection.introspection.django_table_names(only_existing=False))
    q = connection.ops.quote_name
    rt = q(runtime)
    lines = [
        f"-- Run as the owner role after every `minqing migrate`. Runtime role: {runtime}.",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {rt};",
        f"GRANT USAGE ON SCHEMA public TO {rt};",
        # Big imports look values up through temporary tables (registry.imports._present).
        f"GRANT CONNECT, TEMPORARY ON DATABASE {q(database)} TO {rt};",
    ]
    for table in tables:
        if table == audit:
            # Append-only: read and add, nothing else (no UPDATE, DELETE or TRUNCATE).
            lines.append(f"GRANT SELECT, INSERT ON {q(table)} TO {rt};")
        else:
            lines.append(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {q(table)} TO {rt};")
    existing = set(connection.introspection.table_names())
    for table in RAW_TABLES:
        if table in existing:
            lines.append(f"GRANT SELECT, INSERT, DELETE ON {q(table)} TO {rt};")
    lines.append(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {rt};")
    if owner:
        lines.append(
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {q(owner)} IN SCHEMA public "
            f"GRANT USAGE, SELECT ON SEQUENCES TO {rt};"
        )
    return lines


class Command(BaseCommand):
    help = "Print the GRANT statements for the runtime database role (PostgreSQL)."

    def add_arguments(self, parser):
        parser.add_argument("--runtime", default="minqing_app", help="runtime role name")
        parser.add_argument("--owner", default=None, help="owner (migrations) role name")

    def handle(self, *args, runtime, owner, **options):
        database = connection.settings_dict["NAME"]
        for line in grant_statements(runtime, owner=owner, database=database):
            self.stdout.write(line)
