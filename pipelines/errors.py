"""Domain errors. Use-cases raise them; the web UI and the API each turn them
into their own response (the API via `code` and `http_status`)."""

import errno
from typing import Any

# What a full disk (or quota, or file size limit) looks like to a write.
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS


class SlipwayError(Exception):
    code = "error"
    http_status = 400

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(SlipwayError):
    code = "not_found"
    http_status = 404


class PermissionDenied(SlipwayError):
    code = "forbidden"
    http_status = 403


class InvalidInput(SlipwayError):
    """Input that is well-formed but wrong (names the field in details['field'])."""

    code = "invalid"
    http_status = 422


class Conflict(SlipwayError):
    code = "conflict"
    http_status = 409


class ArtifactMismatch(SlipwayError):
    code = "digest_mismatch"
    http_status = 422


class ArtifactConflict(Conflict):
    code = "artifact_conflict"


class ArtifactTooLarge(SlipwayError):
    code = "artifact_too_large"
    http_status = 413


class StorageFull(SlipwayError):
    """The disk that was written to is full; what was half-written is removed."""

    code = "storage_full"
    http_status = 507


class DeploymentRunning(Conflict):
    code = "deployment_running"


class ChecklistIncomplete(Conflict):
    code = "checklist_incomplete"


class CandidateChanged(Conflict):
    """What the user saw (a pinned digest) is no longer what would be promoted or signed."""

    code = "candidate_changed"


class PromotionRunning(Conflict):
    code = "promotion_running"


class BrokerUnavailable(SlipwayError):
    """The workers' broker (Redis) does not answer: nothing is queued that nobody would run."""

    code = "broker_unavailable"
    http_status = 503


class EnvironmentLocked(SlipwayError):
    code = "environment_locked"
    http_status = 423


class ConfigError(SlipwayError):
    """A pipeline.toml that cannot be loaded; the message names file, environment and field."""

    code = "invalid_config"
    http_status = 422


class ReceiptNotReady(Conflict):
    """A promotion's receipt is issued once its deployment has ended."""

    code = "receipt_not_ready"


class EnvironmentFrozen(SlipwayError):
    """A scheduled freeze window holds (pipelines/freezes.py); details['window'] says which."""

    code = "frozen"
    http_status = 423
