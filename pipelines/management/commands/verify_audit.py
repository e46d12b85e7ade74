from django.core.management.base import BaseCommand, CommandError

from pipelines.audit import verify_all, verify_and_remember
from pipelines.models import Pipeline


class Command(BaseCommand):
    help = (
        "Verify the audit log's hash chains (every pipeline's, or PIPELINE's): name the first "
        "event that was changed, removed or inserted. Exits with 1 when a chain is broken."
    )

    def add_arguments(self, parser):
        parser.add_argument("pipeline", nargs="?", help="Only this pipeline's chain.")

    def handle(self, *args, pipeline: str | None, **options):
        if pipeline:
            found = Pipeline.objects.filter(name=pipeline).first()
            if found is None:
                raise CommandError(f"There is no pipeline named {pipeline!r}.")
            reports = [verify_and_remember(found)]
        else:
            reports = verify_all()
        broken = 0
        for report in reports:
            name = report.pipeline or "(events without a pipeline)"
            if report.ok:
                when = f"{report.verified_at:%Y-%m-%d %H:%M:%S} UTC"
                up_to = (
                    f"up to event {report.verified_seq} ({when})"
                    if report.verified_seq
                    else "(no events yet)"
                )
                self.stdout.write(f"{name}: chain verified {up_to}.")
            else:
                broken += 1
                self.stderr.write(
                    f"{name}: BROKEN — {report.broken} "
                    f"The chain holds up to event {report.verified_seq}."
                )
        if broken:
            raise CommandError(f"{broken} audit chain(s) broken.", returncode=1)
