from django.contrib import admin
from django.urls import include, path

from dashboard.views import (
    audit,
    badges,
    cctray,
    deploy_actions,
    environments,
    flags,
    health,
    metrics,
    pipelines,
    promotion,
    promotions,
)
from dashboard.views import deployments as deployment_views
from pipelines.api import ofrep

urlpatterns = [
    path("", pipelines.index, name="index"),
    path("pipelines/<slug:pipeline>/", pipelines.board, name="board"),
    path(
        "pipelines/<slug:pipeline>/environments/<slug:environment>/",
        environments.environment_detail,
        name="environment",
    ),
    path(
        "pipelines/<slug:pipeline>/environments/<slug:environment>/flags/",
        flags.flag_list,
        name="environment-flags",
    ),
    path(
        "pipelines/<slug:pipeline>/environments/<slug:environment>/flags/new",
        flags.flag_create,
        name="flag-create",
    ),
    path(
        "pipelines/<slug:pipeline>/environments/<slug:environment>/flags/<slug:key>/",
        flags.flag_update,
        name="flag-update",
    ),
    path(
        "pipelines/<slug:pipeline>/environments/<slug:environment>/badge.svg",
        badges.badge_svg,
        name="badge-svg",
    ),
    path(
        "pipelines/<slug:pipeline>/environments/<slug:environment>/badge.json",
        badges.badge_json,
        name="badge-json",
    ),
    # The badge's first address (DESIGN's): the same badge.
    path("badges/<slug:pipeline>/<slug:environment>.svg", badges.badge_svg),
    path("cc.xml", cctray.feed, name="cctray"),
    path("pipelines/<slug:pipeline>/cc.xml", cctray.pipeline_feed, name="pipeline-cctray"),
    path("pipelines/<slug:pipeline>/audit/", audit.audit_log, name="audit"),
    path("pipelines/<slug:pipeline>/metrics/", metrics.metrics_page, name="metrics"),
    path("pipelines/<slug:pipeline>/freeze", promotion.freeze, name="pipeline-freeze"),
    path("pipelines/<slug:pipeline>/unfreeze", promotion.unfreeze, name="pipeline-unfreeze"),
    path(
        "pipelines/<slug:pipeline>/environments/<slug:environment>/checklist/<slug:key>/sign",
        promotion.sign,
        name="promotion-sign",
    ),
    path(
        "pipelines/<slug:pipeline>/environments/<slug:environment>/signoffs/<int:signoff>/revoke",
        promotion.revoke,
        name="promotion-revoke",
    ),
    path(
        "pipelines/<slug:pipeline>/environments/<slug:environment>/promote",
        promotion.promote,
        name="promotion-promote",
    ),
    path(
        "pipelines/<slug:pipeline>/environments/<slug:environment>/lock",
        promotion.lock,
        name="environment-lock",
    ),
    path(
        "pipelines/<slug:pipeline>/environments/<slug:environment>/unlock",
        promotion.unlock,
        name="environment-unlock",
    ),
    path(
        "pipelines/<slug:pipeline>/environments/<slug:environment>/unpin",
        promotion.unpin,
        name="environment-unpin",
    ),
    path(
        "pipelines/<slug:pipeline>/environments/<slug:environment>/deploy",
        deploy_actions.deploy,
        name="environment-deploy",
    ),
    path(
        "pipelines/<slug:pipeline>/environments/<slug:environment>/rollback",
        deploy_actions.roll_back,
        name="environment-rollback",
    ),
    path(
        "pipelines/<slug:pipeline>/environments/<slug:environment>/delete",
        deploy_actions.delete,
        name="environment-delete",
    ),
    path("deployments/<int:deployment>/cancel", deploy_actions.cancel, name="deployment-cancel"),
    path("deployments/<int:deployment>/", deployment_views.deployment_detail, name="deployment"),
    path(
        "deployments/<int:deployment>/log", deployment_views.deployment_log, name="deployment-log"
    ),
    path(
        "deployments/<int:deployment>/log.txt",
        deployment_views.deployment_log_text,
        name="deployment-log-text",
    ),
    path("promotions/<int:promotion>/", promotions.promotion_detail, name="promotion"),
    path(
        "promotions/<int:promotion>/receipt.json",
        promotions.promotion_receipt_file,
        name="promotion-receipt-file",
    ),
    path("healthz", health.healthz, name="healthz"),
    path("api/v1/", include("pipelines.api.urls")),
    path("ofrep/v1/evaluate/flags", ofrep.evaluate_flags, name="ofrep-flags"),
    path("ofrep/v1/evaluate/flags/<str:key>", ofrep.evaluate_flag, name="ofrep-flag"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
]

handler403 = "dashboard.views.errors.forbidden"
