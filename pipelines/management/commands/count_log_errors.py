from django.core.management.base import BaseCommand, CommandError

from pipelines.logs import RECOUNT_CHUNK, recount_errors
from pipelines.models import Deployment


class Command(BaseCommand):
    help = (
        "Count the error lines of deployment logs stored before Slipway counted them as "
        "written, and note each log's first error (the deployment page's summary). One "
        "deployment at a time, each log read in chunks: memory stays bounded, and a run that "
        "is stopped goes on where it was when started again (docs/operations.md)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--chunk", type=int, default=RECOUNT_CHUNK, help="log lines read at once"
        )

    def handle(self, *args, **options):
        if options["chunk"] < 1:
            raise CommandError(f"--chunk must be 1 line or more, not {options['chunk']}")
        waiting = Deployment.objects.filter(log_errors_counted=False)
        total, done, after = waiting.count(), 0, 0
        while True:
            # Keyset by id, a few at a time: never the whole list in memory.
            ids = list(
                waiting.filter(pk__gt=after).order_by("pk").values_list("pk", flat=True)[:100]
            )
            if not ids:
                break
            for deployment_id in ids:
                recount_errors(deployment_id, chunk=options["chunk"])
                done += 1
                if done % 100 == 0:
                    self.stdout.write(f"{done:,} of {total:,} deployments counted")
            after = ids[-1]
        self.stdout.write(self.style.SUCCESS(f"Error lines counted for {done:,} deployments."))
