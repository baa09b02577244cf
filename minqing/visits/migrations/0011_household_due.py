"""The kept per-household next-due date for the due list, its triggers and its first fill."""

import django.db.models.deletion
from django.db import migrations, models


def forward(apps, schema_editor):
    from minqing.visits import household_due

    household_due.install(schema_editor)
    household_due.rebuild_sql(schema_editor)


def backward(apps, schema_editor):
    from minqing.visits import household_due

    household_due.uninstall(schema_editor)


class Migration(migrations.Migration):

    dependencies = [
        ('appeals', '0005_appeal_fewer_indexes_on_intake'),
        ('registry', '0011_tagperiod_household_tag_index'),
        ('visits', '0010_household_tags'),
    ]

    operations = [
        migrations.CreateModel(
            name='HouseholdDue',
            fields=[
                ('household', models.OneToOneField(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, primary_key=True, related_name='+', serialize=False, to='registry.household')),
                ('grid_id', models.BigIntegerField()),
                ('due', models.DateField()),
                ('since', models.DateField(null=True)),
            ],
            options={
                'verbose_name': '户下次应访日期',
                'verbose_name_plural': '户下次应访日期',
                'indexes': [models.Index(fields=['grid_id', 'due'], include=('household', 'since'), name='householddue_grid_due_idx')],
            },
        ),
        migrations.RunPython(forward, backward),
    ]
