from django.core.management.base import BaseCommand

from dashboard.demo import (
    DEMO_PASSWORD,
    DEMO_PIPELINE,
    ensure_demo_pipeline,
    ensure_demo_users,
    serving_report,
)
from dashboard.demo_router import NGINX_DIR, demo_config, ensure_router, nginx_binary
from pipelines.drivers.local import target_path


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
        nginx = nginx_binary()
        config = demo_config(DEMO_PIPELINE, nginx=nginx is not None)
        if nginx:
            router = ensure_router(config, nginx, target_path(NGINX_DIR))
        else:
            router = (
                "nginx is not installed, so live runs without blue-green on port 8103 "
                "(apt-get install nginx, then make run again, to see blue-green)"
            )
        pipeline = ensure_demo_pipeline(slipway_url=url, config=config)
        self.stdout.write(f"Demo pipeline '{pipeline.name}' is ready. Log in as one of:")
        for username, label in users:
            self.stdout.write(f"  {username:<10} ({label})  password: {DEMO_PASSWORD}")
        for line in serving_report(pipeline):
            self.stdout.write(f"  {line}")
        self.stdout.write(router)
