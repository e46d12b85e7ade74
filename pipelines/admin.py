from django.contrib import admin

from pipelines.models import (
    Artifact,
    AuditEvent,
    Build,
    ChecklistItem,
    Deployment,
    DeploymentStep,
    Environment,
    Lock,
    Pipeline,
    Promotion,
    Release,
    Signoff,
)


class EnvironmentInline(admin.TabularInline):
    model = Environment
    fk_name = "pipeline"
    fields = ["name", "position", "branch", "promote_from", "driver"]
    extra = 0
    show_change_link = True


@admin.register(Pipeline)
class PipelineAdmin(admin.ModelAdmin):
    list_display = ["name", "repository_url", "created_at"]
    search_fields = ["name"]
    inlines = [EnvironmentInline]


class ChecklistItemInline(admin.TabularInline):
    model = ChecklistItem
    extra = 0


@admin.register(Environment)
class EnvironmentAdmin(admin.ModelAdmin):
    list_display = ["name", "pipeline", "position", "branch", "promote_from", "driver"]
    list_filter = ["pipeline"]
    raw_id_fields = ["current_release"]
    inlines = [ChecklistItemInline]


@admin.register(Build)
class BuildAdmin(admin.ModelAdmin):
    list_display = [
        "short_sha",
        "pipeline",
        "branch",
        "status",
        "tests_failed",
        "coverage",
        "created_at",
    ]
    list_filter = ["pipeline", "status"]
    search_fields = ["sha", "branch", "message", "author"]
    raw_id_fields = ["artifact"]


@admin.register(Artifact)
class ArtifactAdmin(admin.ModelAdmin):
    list_display = ["digest", "size", "created_at"]
    search_fields = ["digest"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # artifacts are immutable


@admin.register(Release)
class ReleaseAdmin(admin.ModelAdmin):
    list_display = ["environment", "label", "build", "cause", "created_by", "deployed_at"]
    list_filter = ["environment__pipeline", "cause"]
    raw_id_fields = ["build", "artifact"]


class DeploymentStepInline(admin.TabularInline):
    model = DeploymentStep
    extra = 0


@admin.register(Deployment)
class DeploymentAdmin(admin.ModelAdmin):
    list_display = ["pk", "environment", "status", "requested_by", "created_at", "finished_at"]
    list_filter = ["status", "environment__pipeline"]
    raw_id_fields = ["release"]
    inlines = [DeploymentStepInline]


@admin.register(Lock)
class LockAdmin(admin.ModelAdmin):
    list_display = ["pipeline", "environment", "owner", "reason", "created_at"]


@admin.register(Signoff)
class SignoffAdmin(admin.ModelAdmin):
    list_display = ["item", "user", "artifact", "signed_at", "revoked_at"]
    raw_id_fields = ["artifact", "target_release"]


@admin.register(Promotion)
class PromotionAdmin(admin.ModelAdmin):
    list_display = ["source", "target", "artifact", "requested_by", "created_at"]
    raw_id_fields = ["deployment", "artifact"]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the audit log is append-only, here too."""

    list_display = ["created_at", "pipeline", "environment", "actor", "action", "message"]
    list_filter = ["action", "pipeline"]
    search_fields = ["message"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


from pipelines import admin_tokens  # noqa: E402,F401  (API tokens)
