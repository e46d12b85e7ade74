"""The Celery app: runs deployments and delivers notifications on workers when REDIS_URL is set."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")

app = Celery("slipway")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["pipelines.runner"])  # pipelines/runner/tasks.py
app.autodiscover_tasks(["pipelines"], related_name="notifications")  # deliver_notification
app.autodiscover_tasks(["pipelines"], related_name="probe")  # probe_environments (beat)
app.autodiscover_tasks(["pipelines"], related_name="retention")  # prune
app.autodiscover_tasks(["pipelines"], related_name="thaw")  # thaw_frozen (beat)
app.autodiscover_tasks(["pipelines"], related_name="branch_environments")  # expiry (beat)
