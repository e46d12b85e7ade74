import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """The log table loses its foreign key and its index on deployment_id alone: PostgreSQL
    checked the key once per line written, and one_log_line_per_seq (deployment_id, seq)
    serves every look-up by deployment. Integrity is kept by the writers and deletes (the
    comment at LogLine.deployment). SQLite rebuilds the table; PostgreSQL only drops the
    constraint and the index. Backwards, the key is checked again over every row."""

    dependencies = [
        ("pipelines", "0026_deployment_log_errors_counted"),
    ]

    operations = [
        migrations.AlterField(
            model_name="logline",
            name="deployment",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="log_lines",
                to="pipelines.deployment",
            ),
        ),
    ]
