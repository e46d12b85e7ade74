from django.db import migrations, models


class Migration(migrations.Migration):
    """Deployments stored so far are marked uncounted (their logs may predate 0015, which
    counts error lines as they are written); new ones are counted from their first line.
    `manage.py count_log_errors` counts the old ones, resumably, outside the migration."""

    dependencies = [
        ("pipelines", "0025_branch_environments"),
    ]

    operations = [
        migrations.AddField(
            model_name="deployment",
            name="log_errors_counted",
            field=models.BooleanField(default=False),
        ),
        migrations.AlterField(
            model_name="deployment",
            name="log_errors_counted",
            field=models.BooleanField(default=True),
        ),
    ]
