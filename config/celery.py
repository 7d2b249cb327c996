"""The Celery application. Settings come from Django's settings (CELERY_* names)."""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("paincohort")
app.config_from_object("django.conf:settings", namespace="CELERY")
# The analysis app keeps its tasks with the model runs (analysis/runs/tasks.py); the
# reminders' beat task is reminders/tasks.py.
app.autodiscover_tasks(["analysis.runs", "reminders"])
