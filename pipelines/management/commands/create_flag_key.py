from django.core.management.base import BaseCommand, CommandError

from pipelines.flag_keys import create_flag_key
from pipelines.models import Environment


class Command(BaseCommand):
    help = (
        "Create the key an application uses to read ENVIRONMENT's feature flags over OFREP, "
        "and print it once (only its hash is stored)."
    )

    def add_arguments(self, parser):
        parser.add_argument("pipeline")
        parser.add_argument("environment")
        parser.add_argument("--name", default="", help="Who uses it, e.g. 'webshop servers'.")

    def handle(self, *args, pipeline: str, environment: str, name: str, **options):
        env = (
            Environment.objects.select_related("pipeline")
            .filter(pipeline__name=pipeline, name=environment)
            .first()
        )
        if env is None:
            raise CommandError(f"Pipeline {pipeline!r} has no environment {environment!r}.")
        key, raw = create_flag_key(env, name=name)
        self.stderr.write(
            f"Flag key {key.prefix}… for {env}. Copy it now: it is not shown again. "
            "Revoke it with: python manage.py revoke_flag_key " + key.prefix
        )
        self.stdout.write(raw)
