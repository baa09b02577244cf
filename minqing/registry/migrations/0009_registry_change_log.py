"""A log of the transactions that wrote to the tables an import's plan is checked against
(PostgreSQL only): a statement-level trigger adds one row per writing statement, with its
transaction id. An import's commit that finds no transaction invisible to its dry run's
snapshot in this log knows the registry has not changed since, and skips the re-check."""

from django.db import migrations

TABLES = (
    "registry_resident",
    "registry_household",
    "registry_tagperiod",
    "areas_area",
    "accounts_jurisdiction",
)

FORWARD = [
    "CREATE TABLE minqing_registry_change (seq bigserial PRIMARY KEY, "
    "txid bigint NOT NULL, at timestamptz NOT NULL DEFAULT now())",
    "CREATE FUNCTION minqing_registry_changed() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN INSERT INTO minqing_registry_change (txid) VALUES (txid_current()); RETURN NULL; END $$",
    *(
        f"CREATE TRIGGER minqing_registry_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
        f"ON {t} FOR EACH STATEMENT EXECUTE FUNCTION minqing_registry_changed()"
        for t in TABLES
    ),
]
BACKWARD = [
    *(f"DROP TRIGGER IF EXISTS minqing_registry_changed ON {t}" for t in TABLES),
    "DROP FUNCTION IF EXISTS minqing_registry_changed()",
    "DROP TABLE IF EXISTS minqing_registry_change",
]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in FORWARD:
            schema_editor.execute(sql)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in BACKWARD:
            schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0008_merge_corrections_and_summaries"),
        ("areas", "0001_initial"),
        ("accounts", "0002_api_tokens"),
    ]

    operations = [migrations.RunPython(forward, backward)]
