from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from pipelines.config import LoadReport, apply_pipeline, read_pipeline_file
from pipelines.errors import ConfigError


class Command(BaseCommand):
    help = (
        "Create or update pipelines from pipeline.toml files. Never deletes: environments and "
        "checklist items left out of a file are kept, with a warning."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("files", nargs="+", metavar="FILE", help="a pipeline.toml")

    def handle(self, *args, files: list[str], **options) -> None:
        # Check every file before writing any, so one bad file changes nothing at all.
        try:
            configs = [read_pipeline_file(path) for path in files]
        except ConfigError as exc:
            raise CommandError(exc.message) from exc
        seen: dict[str, str] = {}
        for config in configs:
            if config.name in seen:
                raise CommandError(
                    f'{config.source}: pipeline "{config.name}" is also defined in '
                    f"{seen[config.name]}; load one file per pipeline"
                )
            seen[config.name] = config.source

        with transaction.atomic():
            reports = [apply_pipeline(config) for config in configs]
        for report in reports:
            self.print_report(report)

    def print_report(self, report: LoadReport) -> None:
        self.stdout.write(self.style.SUCCESS(report.summary()))
        for warning in report.warnings():
            self.stderr.write(self.style.WARNING(f"Warning: {warning}"))
