"""Appeal events are appended and never updated. After a VACUUM the free-space map lists
every old page with a small hole (on the generated 1M city: 38,520 of 75,216 pages with
96–159 bytes free, left by COPY), and a new intake's short CREATE event went into one of
them: a random old page read and written whole into the WAL (a full-page image, 8 kB) on
every intake. With fillfactor 95 an insert looks only for pages with 5 % free, so new
events go to the end of the table, page after page (PostgreSQL only; no rewrite, only new
pages are affected)."""

from django.db import migrations


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE appeals_appealevent SET (fillfactor = 95)")


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE appeals_appealevent RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("appeals", "0006_intake_writes_fewer_indexes")]

    operations = [migrations.RunPython(forward, backward)]
