"""The kept next-due dates' triggers no longer recount for rows without a household (a
resident's web filing, most appeals): the same rows, without planning the recount's
statements on every such write. Triggers and functions are re-installed as
household_due defines them now."""

from django.db import migrations


def reinstall(apps, schema_editor):
    from minqing.visits import household_due

    household_due.uninstall(schema_editor)
    household_due.install(schema_editor)


class Migration(migrations.Migration):

    dependencies = [
        ("visits", "0012_household_months"),
    ]

    operations = [
        migrations.RunPython(reinstall, migrations.RunPython.noop),
    ]
