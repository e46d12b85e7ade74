from django.core.management.base import BaseCommand

from dashboard.demo import DEMO_PASSWORD, ensure_demo_pipeline, ensure_demo_users, serving_report


class Command(BaseCommand):
    help = "Create the demo users (one per role) and the webshop pipeline with a few builds."

    def add_arguments(self, parser):
        parser.add_argument(
            "--url",
            default="http://127.0.0.1:8000",
            help="Where Slipway will serve: the sample app reads its feature flags there.",
        )

    def handle(self, *args, url: str, **options) -> None:
        users = ensure_demo_users()
        pipeline = ensure_demo_pipeline(slipway_url=url)
        self.stdout.write(f"Demo pipeline '{pipeline.name}' is ready. Log in as one of:")
        for username, label in users:
            self.stdout.write(f"  {username:<10} ({label})  password: {DEMO_PASSWORD}")
        for line in serving_report(pipeline):
            self.stdout.write(f"  {line}")
