from django.db import migrations


def seed(apps, schema_editor):
    from minqing.appeals.categories import DEFAULT_CATEGORIES

    Category = apps.get_model("appeals", "Category")
    for order, (code, name, desc, dv, dt, dc) in enumerate(DEFAULT_CATEGORIES):
        Category.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "description": desc,
                "days_village": dv,
                "days_township": dt,
                "days_county": dc,
                "order": order * 10,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("appeals", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
