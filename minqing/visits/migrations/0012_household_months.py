"""The kept per-household monthly visit counts for coverage, their triggers and their
first fill (one INSERT ... SELECT over the visits)."""

import django.db.models.deletion
from django.db import migrations, models


def forward(apps, schema_editor):
    from minqing.visits import household_months

    household_months.install(schema_editor)
    household_months.rebuild_sql(schema_editor)


def backward(apps, schema_editor):
    from minqing.visits import household_months

    household_months.uninstall(schema_editor)


class Migration(migrations.Migration):

    dependencies = [
        ('registry', '0011_tagperiod_household_tag_index'),
        ('visits', '0011_household_due'),
    ]

    operations = [
        migrations.CreateModel(
            name='HouseholdMonth',
            fields=[
                ('pk', models.CompositePrimaryKey('household', 'month', blank=True, editable=False, primary_key=True, serialize=False)),
                ('month', models.DateField()),
                ('grid_id', models.BigIntegerField()),
                ('visits', models.IntegerField()),
                ('last_at', models.DateTimeField()),
                ('household', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='registry.household')),
            ],
            options={
                'verbose_name': '户月走访次数',
                'verbose_name_plural': '户月走访次数',
                'indexes': [models.Index(fields=['grid_id', 'month'], include=('household', 'visits', 'last_at'), name='householdmonth_grid_idx')],
            },
        ),
        migrations.RunPython(forward, backward),
    ]
