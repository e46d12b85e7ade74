from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from pipelines.models.checklist import ChecklistItem


class Pipeline(models.Model):
    """One application, promoted through its environments."""

    name = models.SlugField(max_length=64, unique=True)
    repository_url = models.URLField(blank=True)
    # Where deploy and promotion news goes: [[pipeline.notifications]] of pipeline.toml, as
    # {"kind": "slack"|"webhook"|"email", "url"/"to", "secret_env"} (pipelines/notifications.py).
    notifications = models.JSONField(default=list, blank=True)
    # Status badges (and the cctray feed) of this pipeline may be read without logging in.
    public_badges = models.BooleanField(default=False)
    # Scheduled freeze windows: [[pipeline.freezes]] as pipelines/config/freezes.py checked
    # them; pipelines/freeze_windows.py says when they hold.
    freezes = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Driver(models.TextChoices):
    NONE = "", "record only"
    LOCAL = "local", "local directory"
    SCRIPT = "script", "script"
    HEROKU = "heroku", "Heroku"


class EnvironmentManager(models.Manager):
    """Environments in use: a deleted branch environment (`removed_at`) is kept only for its
    history, reached through its deployments, releases and audit events (whose foreign keys
    use the base manager), and `Environment.every`."""

    def get_queryset(self):
        return super().get_queryset().filter(removed_at__isnull=True)


class Environment(models.Model):
    """A stage of a pipeline (dev, uat, live, …).

    With `per_branch` it is a template (pipelines/branch_environments.py): it never deploys;
    each branch matching its glob gets an environment of its own made from it (`template`,
    `source_branch`, `port`), deleted by hand or after `idle_days` (`removed_at`).
    """

    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="environments")
    name = models.SlugField(max_length=64)
    position = models.PositiveIntegerField(default=0)
    # A passing build of a branch matching this glob auto-deploys here.
    branch = models.CharField(max_length=200, blank=True)
    promote_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="promotes_to"
    )
    driver = models.CharField(max_length=16, choices=Driver.choices, blank=True, default="")
    driver_settings = models.JSONField(default=dict, blank=True)
    # What deployment commands get besides Slipway's allowlist (docs/security.md): `env` maps
    # names to plain values, `secrets` names to the server variables holding the values.
    command_env = models.JSONField(default=dict, blank=True)
    secrets = models.JSONField(default=dict, blank=True)
    # The release serving now: set when a deployment succeeds.
    current_release = models.ForeignKey(
        "pipelines.Release", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The newest build auto-deploy could not start because a deployment was running here:
    # it deploys when that one ends (the builds that came between are skipped).
    waiting_build = models.ForeignKey(
        "pipelines.Build", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Pinned by a rollback: auto-deploy stops here until a lead unpins (pipelines/pins.py).
    pinned_at = models.DateTimeField(null=True, blank=True)
    pinned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    pin_reason = models.CharField(max_length=200, blank=True)
    # The drift probe (pipelines/probe.py): where the environment says which commit it serves,
    # the field of its JSON that holds it, and how often to ask (seconds).
    version_url = models.URLField(max_length=500, blank=True)
    version_field = models.CharField(max_length=100, blank=True, default="sha")
    probe_interval = models.PositiveIntegerField(default=60)
    # Per-branch environments (docs/branch-environments.md). A template says per_branch and
    # keeps its template-only keys in branch_settings ({"ports": [low, high], "idle_days": n,
    # "stop_command": "…", "delete_role": "…"}); an environment made from it names it in
    # `template`, the branch it deploys in `source_branch`, and its `port` (freed on removal).
    per_branch = models.BooleanField(default=False)
    branch_settings = models.JSONField(default=dict, blank=True)
    template = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="branch_environments",
    )
    source_branch = models.CharField(max_length=255, blank=True)
    port = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    removed_at = models.DateTimeField(null=True, blank=True)

    every = models.Manager()  # deleted branch environments too
    objects = EnvironmentManager()

    class Meta:
        ordering = ["pipeline", "position", "name"]
        default_manager_name = "objects"
        base_manager_name = "every"
        constraints = [
            models.UniqueConstraint(
                fields=["pipeline", "name"],
                condition=Q(removed_at__isnull=True),
                name="unique_environment_name",
            ),
            models.UniqueConstraint(
                fields=["template", "source_branch"],
                condition=Q(removed_at__isnull=True, template__isnull=False),
                name="one_environment_per_branch",
            ),
            # Never two environments on one port (a removed one frees it once its app stopped).
            models.UniqueConstraint(
                fields=["port"], condition=Q(port__isnull=False), name="one_environment_per_port"
            ),
            models.CheckConstraint(
                condition=~Q(promote_from=models.F("id")),
                name="environment_not_promoted_from_itself",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.pipeline.name}/{self.name}"

    @property
    def is_branch_environment(self) -> bool:
        return self.template_id is not None

    def is_guarded(self) -> bool:
        """Its active checklist guards it: by hand, only a lead deploys here."""
        return self.checklist_items.active().exists()

    @staticmethod
    def guarded_annotation() -> models.Exists:
        """`is_guarded()` as an annotation of an environments query (`OuterRef("pk")`), for a
        page that shows it: no query of its own. Deciding goes through is_guarded()."""
        active = ChecklistItem.objects.active()
        return models.Exists(active.filter(environment=models.OuterRef("pk")))


class Lock(models.Model):
    """A lock on one environment, or a freeze of the whole pipeline (environment empty)."""

    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="locks")
    environment = models.ForeignKey(
        Environment, null=True, blank=True, on_delete=models.CASCADE, related_name="locks"
    )
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["environment"],
                condition=Q(environment__isnull=False),
                name="one_lock_per_environment",
            ),
            models.UniqueConstraint(
                fields=["pipeline"],
                condition=Q(environment__isnull=True),
                name="one_freeze_per_pipeline",
            ),
        ]

    def __str__(self) -> str:
        scope = self.environment.name if self.environment_id else "all environments"
        return f"{self.pipeline.name}: {scope} locked by {self.owner}"


class ProbeStatus(models.TextChoices):
    OK = "ok"
    DRIFT = "drift"
    UNREACHABLE = "unreachable"


class Probe(models.Model):
    """What the drift probe last found at an environment's version_url, and since when."""

    environment = models.OneToOneField(Environment, on_delete=models.CASCADE, related_name="probe")
    status = models.CharField(max_length=16, choices=ProbeStatus.choices)
    # The commit the target said it serves (empty when unreachable).
    serving_sha = models.CharField(max_length=64, blank=True)
    # The commit Slipway deployed there when checked.
    deployed_sha = models.CharField(max_length=64, blank=True)
    # Why it is unreachable (or what it answered instead of a commit).
    detail = models.CharField(max_length=300, blank=True)
    checked_at = models.DateTimeField()
    # When this status began.
    since = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ProbeStatus.values), name="probe_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.environment}: {self.status} since {self.since:%Y-%m-%d %H:%M}"
