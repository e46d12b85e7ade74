from django.core.management.base import BaseCommand

from pipelines.retention import prune


class Command(BaseCommand):
    help = (
        "Remove what Slipway no longer needs: unused artifacts, old release directories of "
        "local targets, leftovers of killed uploads and unpacks, old log lines "
        "(docs/operations.md). Never the current or previous release of an environment."
    )

    def handle(self, *args, **options):
        pruned = prune()
        for digest in pruned.artifacts:
            self.stdout.write(f"artifact {digest}")
        for path in [*pruned.release_dirs, *pruned.leftovers]:
            self.stdout.write(f"removed {path}")
        self.stdout.write(self.style.SUCCESS(f"Pruned: {pruned}."))
