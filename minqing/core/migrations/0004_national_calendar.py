from django.db import migrations


def seed(apps, schema_editor):
    from minqing.core.deadlines import national_calendar_rows

    CalendarDay = apps.get_model("core", "CalendarDay")
    for day, kind, name in national_calendar_rows():
        CalendarDay.objects.update_or_create(date=day, defaults={"kind": kind, "name": name})


class Migration(migrations.Migration):
    dependencies = [("core", "0003_case_kernel")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
