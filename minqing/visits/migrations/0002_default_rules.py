"""Seed the must-visit rules (五必访) the seeds name; administrators change them later."""

from django.db import migrations

# rule name, tag code, interval in days
RULES = [
    ("特困人员每月必访", "tekun", 30),
    ("五保户每月必访", "wubao", 30),
    ("空巢老人每月必访", "empty_nest", 30),
    ("留守儿童每月必访", "left_behind_child", 30),
    ("信访人每两周必访", "petitioner", 14),
    ("建档立卡贫困户每月必访", "poverty_enrolled", 30),
]


def seed(apps, schema_editor):
    Tag = apps.get_model("registry", "Tag")
    VisitRule = apps.get_model("visits", "VisitRule")
    tags = {t.code: t for t in Tag.objects.filter(code__in=[r[1] for r in RULES])}
    for order, (name, code, days) in enumerate(RULES, start=1):
        if code in tags:
            VisitRule.objects.get_or_create(
                name=name,
                defaults={"kind": "tag", "tag": tags[code], "interval_days": days, "order": order},
            )


def unseed(apps, schema_editor):
    apps.get_model("visits", "VisitRule").objects.filter(name__in=[r[0] for r in RULES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("visits", "0001_visits_rules_and_log"),
        ("registry", "0002_system_tags"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
