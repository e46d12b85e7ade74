from django.contrib import admin
from django.urls import include, path

from dashboard.views import environments, health, pipelines

urlpatterns = [
    path("", pipelines.index, name="index"),
    path("pipelines/<slug:pipeline>/", pipelines.board, name="board"),
    path(
        "pipelines/<slug:pipeline>/environments/<slug:environment>/",
        environments.environment_detail,
        name="environment",
    ),
    path("healthz", health.healthz, name="healthz"),
    path("api/v1/", include("pipelines.api.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
]
