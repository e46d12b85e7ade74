from django.apps import AppConfig
from django.db.models.signals import post_save, pre_delete


class PipelinesConfig(AppConfig):
    name = "pipelines"
    verbose_name = "Pipelines"

    def ready(self) -> None:
        # Who listens to what, in one place: lower layers announce, the use-cases above
        # them listen, so nothing imports upwards (docs/architecture.md, "Layers").
        from pipelines import (
            auto_deploys,
            branch_environments,
            logs,
            notifications,
            probe,
            receipts,
            signers,
            thaw,
        )
        from pipelines.models import AuditEvent, Deployment
        from pipelines.runner import dispatch, embedded
        from pipelines.runner.signals import deployment_ended, deployment_orphaned

        deployment_ended.connect(auto_deploys.deploy_waiting_build_after, dispatch_uid="waiting")
        deployment_ended.connect(receipts.issue_when_ended, dispatch_uid="receipt")
        deployment_ended.connect(signers.ask_signers_after, dispatch_uid="signers")
        deployment_orphaned.connect(dispatch.start_orphan, dispatch_uid="orphan")
        post_save.connect(notifications.audit_recorded, sender=AuditEvent, dispatch_uid="news")
        pre_delete.connect(logs.lock_before_deleting_lines, sender=Deployment, dispatch_uid="log")
        # The drift probe's tick in the embedded mode (Celery beat's schedule in production).
        embedded.run_periodically("SLIPWAY_PROBE_TICK_SECONDS", probe.probe_due_environments)
        # …and the end of freeze windows (pipelines/thaw.py).
        embedded.run_periodically("SLIPWAY_FREEZE_TICK_SECONDS", thaw.thaw)
        # Idle branch environments expire the same way (docs/branch-environments.md).
        embedded.run_periodically(
            "SLIPWAY_BRANCH_EXPIRY_SECONDS", branch_environments.expire_idle_environments
        )
