from django.db import migrations

CATEGORIES = ["涉黑", "涉恶", "村霸", "市霸", "黄赌毒", "非法集资", "其他"]


def add(apps, schema_editor):
    TipCategory = apps.get_model("tips", "TipCategory")
    for i, name in enumerate(CATEGORIES):
        TipCategory.objects.get_or_create(name=name, defaults={"order": (i + 1) * 10})


class Migration(migrations.Migration):
    dependencies = [("tips", "0001_initial")]
    operations = [migrations.RunPython(add, migrations.RunPython.noop)]
