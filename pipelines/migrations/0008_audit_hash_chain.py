"""The audit log becomes a hash chain per pipeline: existing events are chained in the order
they were written (docs/audit.md)."""

from django.db import migrations, models

from pipelines.models.audit import GENESIS, chain_hash


def chain_existing_events(apps, schema_editor):
    AuditEvent = apps.get_model("pipelines", "AuditEvent")
    chains = AuditEvent.objects.values_list("pipeline_id", flat=True).distinct()
    for pipeline_id in list(chains):
        prev, batch = GENESIS, []
        events = AuditEvent.objects.filter(pipeline_id=pipeline_id).order_by("id")
        for seq, event in enumerate(events.iterator(chunk_size=2000), start=1):
            event.seq, event.prev_hash = seq, prev
            event.hash = prev = chain_hash(
                prev_hash=prev,
                seq=seq,
                pipeline_id=event.pipeline_id,
                environment_id=event.environment_id,
                actor_id=event.actor_id,
                action=event.action,
                message=event.message,
                data=event.data,
                created_at=event.created_at,
            )
            batch.append(event)
            if len(batch) >= 2000:
                AuditEvent.objects.bulk_update(batch, ["seq", "prev_hash", "hash"])
                batch = []
        AuditEvent.objects.bulk_update(batch, ["seq", "prev_hash", "hash"])


class Migration(migrations.Migration):
    dependencies = [
        ("pipelines", "0007_feature_flags"),
    ]

    operations = [
        migrations.AlterField(
            model_name="auditevent",
            name="created_at",
            field=models.DateTimeField(db_index=True),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="seq",
            field=models.PositiveBigIntegerField(null=True),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="prev_hash",
            field=models.CharField(default="", max_length=64),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="auditevent",
            name="hash",
            field=models.CharField(default="", max_length=64),
            preserve_default=False,
        ),
        migrations.RunPython(chain_existing_events, migrations.RunPython.noop),
    ]
