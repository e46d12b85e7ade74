"""The Celery app: runs deployments and delivers notifications on workers when REDIS_URL is set."""

import gc
import os

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")

app = Celery("slipway")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["pipelines.runner"])  # pipelines/runner/tasks.py
app.autodiscover_tasks(["pipelines"], related_name="notifications")  # deliver_notification
app.autodiscover_tasks(["pipelines"], related_name="probe")  # probe_environments (beat)
app.autodiscover_tasks(["pipelines"], related_name="retention")  # prune
app.autodiscover_tasks(["pipelines"], related_name="thaw")  # thaw_frozen (beat)
app.autodiscover_tasks(["pipelines"], related_name="branch_environments")  # expiry (beat)


@worker_process_init.connect
def freeze_startup_objects(**_) -> None:
    """A worker's child inherits everything its parent imported: out of the collector's way,
    as in the web server (dashboard/asgi.py)."""
    gc.freeze()
