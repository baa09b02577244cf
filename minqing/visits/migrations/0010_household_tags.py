"""The kept per-household tag summary for coverage, its triggers and its first fill."""

import django.db.models.deletion
from django.db import migrations, models


def forward(apps, schema_editor):
    from minqing.visits import household_tags

    household_tags.install(schema_editor)
    household_tags.rebuild_sql(schema_editor)


def backward(apps, schema_editor):
    from minqing.visits import household_tags

    household_tags.uninstall(schema_editor)


class Migration(migrations.Migration):

    dependencies = [
        ('registry', '0011_tagperiod_household_tag_index'),
        ('visits', '0009_offline_photo_client_id'),
    ]

    operations = [
        migrations.CreateModel(
            name='HouseholdTags',
            fields=[
                ('household', models.OneToOneField(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, primary_key=True, related_name='+', serialize=False, to='registry.household')),
                ('grid_id', models.BigIntegerField()),
                ('tags', models.CharField(max_length=500)),
                ('since', models.DateField(null=True)),
            ],
            options={
                'verbose_name': '户标签汇总',
                'verbose_name_plural': '户标签汇总',
                'indexes': [models.Index(fields=['grid_id'], include=('household', 'tags', 'since'), name='householdtags_grid_idx')],
            },
        ),
        migrations.RunPython(forward, backward),
    ]
