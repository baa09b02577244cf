from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("appeals", "0003_open_matters_duplicate_index"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="appeal",
            index=models.Index(fields=["-created_at", "-id"], name="appeal_created_idx"),
        ),
    ]
