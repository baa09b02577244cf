"""Substring search on the normalised name (name_norm LIKE '%q%') gets a pg_trgm GIN index
on PostgreSQL, so county- and city-wide name search does not scan every resident.
SQLite keeps its plain scan (the embedded default holds small registries)."""

from django.db import migrations

CREATE = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    # household_search / resident_search: name_norm LIKE '%q%'
    "CREATE INDEX IF NOT EXISTS resident_name_norm_trgm ON registry_resident "
    "USING gin (name_norm gin_trgm_ops)",
    # household_search: address LIKE '%q%'
    "CREATE INDEX IF NOT EXISTS household_address_trgm ON registry_household "
    "USING gin (address gin_trgm_ops)",
]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in CREATE:
            schema_editor.execute(sql)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS resident_name_norm_trgm")
        schema_editor.execute("DROP INDEX IF EXISTS household_address_trgm")


class Migration(migrations.Migration):
    dependencies = [("registry", "0005_grid_summaries")]
    operations = [migrations.RunPython(forwards, backwards)]
