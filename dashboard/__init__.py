# Load the Celery app with Django, so tasks sent from web processes use its broker settings.
from dashboard.celery import app as celery_app

__all__ = ["celery_app"]
