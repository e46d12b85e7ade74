"""Routes of /api/v1/. Every route here is described in openapi.py (a test checks both ways)."""

from django.urls import path, re_path

from pipelines.api import (
    artifacts,
    builds,
    deployments,
    insight,
    openapi,
    promotions,
    receipts,
    status,
)
from pipelines.api.logs import deployment_log

app_name = "api"

urlpatterns = [
    path("openapi.json", openapi.schema, name="openapi"),
    path("pipelines", status.pipeline_list, name="pipelines"),
    path("pipelines/<slug:pipeline>", status.pipeline_detail, name="pipeline"),
    path("pipelines/<slug:pipeline>/builds", builds.builds, name="builds"),
    path("pipelines/<slug:pipeline>/builds/<str:sha>/reports", builds.reports, name="reports"),
    path(
        "pipelines/<slug:pipeline>/builds/<str:sha>/artifact", artifacts.artifact, name="artifact"
    ),
    path("pipelines/<slug:pipeline>/promotions", promotions.promotions, name="promotions"),
    path("pipelines/<slug:pipeline>/metrics", insight.metrics, name="metrics"),
    path(
        "pipelines/<slug:pipeline>/promotions/preview",
        insight.promotion_preview,
        name="promotion-preview",
    ),
    path(
        "pipelines/<slug:pipeline>/environments/<slug:environment>",
        promotions.environment,
        name="environment",
    ),
    path(
        "pipelines/<slug:pipeline>/environments/<slug:environment>/lock",
        promotions.environment_lock,
        name="environment-lock",
    ),
    path(
        "pipelines/<slug:pipeline>/environments/<slug:environment>/pin",
        promotions.environment_pin,
        name="environment-pin",
    ),
    path(
        "pipelines/<slug:pipeline>/environments/<slug:environment>/deployments",
        deployments.deployments,
        name="deployments",
    ),
    path("deployments/<int:deployment>", deployments.deployment, name="deployment"),
    path("deployments/<int:deployment>/log", deployment_log, name="deployment-log"),
    path(
        "promotions/<int:promotion>/receipt", receipts.promotion_receipt, name="promotion-receipt"
    ),
    path("receipts/public-key", receipts.public_key, name="receipt-public-key"),
    # Anything else under /api/v1/ (newlines in the path too) answers with a JSON 404, not
    # the HTML page.
    re_path(r"^[\s\S]*$", openapi.no_such_endpoint, name="no-such-endpoint"),
]
