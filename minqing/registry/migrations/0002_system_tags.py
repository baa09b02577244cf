"""Seed the system key-group tags (重点人群) named in the seeds. Safe to re-run."""

from django.db import migrations

# code, name, scope, description
SYSTEM_TAGS = [
    ("poverty_enrolled", "建档立卡贫困户", "household", "精准扶贫建档立卡的贫困户"),
    ("dibao", "低保", "household", "享受最低生活保障的家庭"),
    ("wubao", "五保", "resident", "农村五保供养对象"),
    ("tekun", "特困", "resident", "特困供养人员"),
    ("disabled", "残疾", "resident", "持残疾人证"),
    ("shidu", "失独", "household", "独生子女死亡的家庭"),
    ("orphan", "孤儿", "resident", "父母双亡或事实无人抚养的未成年人"),
    ("empty_nest", "空巢老人", "resident", "子女不在身边的老年人"),
    ("left_behind_child", "留守儿童", "resident", "父母外出务工的未成年人"),
    ("petitioner", "信访人", "resident", "有信访诉求在办的群众"),
    ("party_member", "党员", "resident", "中共党员"),
    ("able_farmer", "致富能手", "resident", "带动群众致富的能人"),
    ("retired_cadre", "老干部", "resident", "离退休干部"),
]


def seed(apps, schema_editor):
    Tag = apps.get_model("registry", "Tag")
    for order, (code, name, scope, description) in enumerate(SYSTEM_TAGS, start=1):
        Tag.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "scope": scope,
                "description": description,
                "is_system": True,
                "order": order * 10,
            },
        )


def unseed(apps, schema_editor):
    Tag = apps.get_model("registry", "Tag")
    Tag.objects.filter(code__in=[t[0] for t in SYSTEM_TAGS], periods__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("registry", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
