"""The domain model, one module per concept (docs/architecture.md, "Layers")."""

from .audit import AuditCheckpoint, AuditEvent
from .builds import Artifact, Build, BuildStatus, TestOutcomes
from .checklist import ChecklistItem, Signoff, SignoffRequest
from .deployments import Deployment, DeploymentStatus, DeploymentStep, LogLine, StepStatus
from .flags import FeatureFlag, FlagKey
from .pipelines import Driver, Environment, Lock, Pipeline, Probe, ProbeStatus
from .releases import Promotion, Release, ReleaseCause
from .tokens import ApiToken

__all__ = [
    "ApiToken",
    "Artifact",
    "AuditCheckpoint",
    "AuditEvent",
    "Build",
    "BuildStatus",
    "ChecklistItem",
    "Deployment",
    "DeploymentStatus",
    "DeploymentStep",
    "Driver",
    "Environment",
    "FeatureFlag",
    "FlagKey",
    "Lock",
    "LogLine",
    "Pipeline",
    "Probe",
    "ProbeStatus",
    "Promotion",
    "Release",
    "ReleaseCause",
    "Signoff",
    "SignoffRequest",
    "StepStatus",
    "TestOutcomes",
]
