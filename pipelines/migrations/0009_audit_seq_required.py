"""Every audit event has its place in a chain (0007 gave the existing ones theirs; PostgreSQL
alters the table only in a transaction of its own after that update)."""

from django.db import migrations, models
from django.db.models import Q


class Migration(migrations.Migration):
    dependencies = [
        ("pipelines", "0008_audit_hash_chain"),
    ]

    operations = [
        migrations.AlterField(
            model_name="auditevent",
            name="seq",
            field=models.PositiveBigIntegerField(),
        ),
        migrations.AddConstraint(
            model_name="auditevent",
            constraint=models.UniqueConstraint(
                condition=Q(pipeline__isnull=False),
                fields=("pipeline", "seq"),
                name="one_audit_event_per_seq",
            ),
        ),
        migrations.AddConstraint(
            model_name="auditevent",
            constraint=models.UniqueConstraint(
                condition=Q(pipeline__isnull=True),
                fields=("seq",),
                name="one_unscoped_audit_event_per_seq",
            ),
        ),
    ]
