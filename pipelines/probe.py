"""The drift probe: does each environment still serve the commit Slipway deployed there?

An environment with `version_url` is asked every `probe_interval` seconds (Celery beat runs
`probe_environments_task` in production; the embedded server runs `probe_due_environments` on
its timer in `make run`, registered in pipelines/apps.py). The answer's `version_field` (a
dotted path into its JSON, or the whole body when it is plain text) is the commit it serves:
`ok` when that is the deployed commit, `drift` when it is another, `unreachable` when there is
no usable answer. Each change of status is an audit event and a notification, and the board
shows it (docs/insight.md#the-drift-probe).

The target is not trusted: no redirects, a connect and a whole-answer time limit, at most
64 KiB read, and only a commit-like value (7 to 64 hex digits) is kept.
"""

import json
import logging
import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from celery import shared_task
from django.db import transaction
from django.utils import timezone

from pipelines import audit
from pipelines.live import publish_board
from pipelines.models import Deployment, Environment, Probe, ProbeStatus
from pipelines.models.deployments import ACTIVE_STATUSES

logger = logging.getLogger(__name__)

MAX_BYTES = 64 * 1024
CONNECT_TIMEOUT = 3  # seconds
ANSWER_TIMEOUT = 5  # seconds for the whole answer, however slowly it drips
SHA_RE = re.compile(r"[0-9a-f]{7,64}")
# identity: what is read is what is counted (no compressed answer inflating past the limit).
HEADERS = {
    "Accept": "application/json, text/plain",
    "Accept-Encoding": "identity",
    "User-Agent": "slipway-probe",
}


class ProbeFailed(Exception):
    """No usable answer; the message says why, for people."""


@dataclass(frozen=True)
class Finding:
    status: str
    serving_sha: str = ""
    detail: str = ""


def read_version(url: str, field: str = "sha") -> str:
    """The commit the target at `url` says it serves. Raises ProbeFailed."""
    deadline = time.monotonic() + ANSWER_TIMEOUT
    try:
        with requests.Session() as session:
            session.trust_env = False  # no proxies from the environment for a probe
            with session.get(
                url,
                timeout=(CONNECT_TIMEOUT, ANSWER_TIMEOUT),
                allow_redirects=False,
                stream=True,
                headers=HEADERS,
            ) as response:
                if response.is_redirect or 300 <= response.status_code < 400:
                    raise ProbeFailed(
                        f"answered {response.status_code} (a redirect; probes do not follow them)"
                    )
                if response.status_code != 200:
                    raise ProbeFailed(f"answered HTTP {response.status_code}")
                body = _read_bounded(response, deadline)
    except requests.Timeout:
        raise ProbeFailed("did not answer in time") from None
    except requests.ConnectionError:
        raise ProbeFailed("refused or dropped the connection") from None
    except requests.RequestException as exc:
        raise ProbeFailed(f"could not be asked ({type(exc).__name__})") from None
    return _sha_in(body, field)


def _read_bounded(response: requests.Response, deadline: float) -> bytes:
    # read1: one socket read at a time, so a target dripping bytes meets the deadline too.
    body = bytearray()
    while chunk := response.raw.read1(8192, decode_content=False):
        body += chunk
        if len(body) > MAX_BYTES:
            raise ProbeFailed(f"answered more than {MAX_BYTES // 1024} KiB")
        if time.monotonic() > deadline:
            raise ProbeFailed(f"took more than {ANSWER_TIMEOUT} s to answer")
    return bytes(body)


def _sha_in(body: bytes, field: str) -> str:
    text = body.decode("utf-8", errors="replace").strip()
    try:
        value = json.loads(text)
    except ValueError:
        value = text  # plain text: the body is the commit
    else:
        for name in field.split("."):
            if not isinstance(value, dict) or name not in value:
                raise ProbeFailed(f"answered JSON without the field {field!r}")
            value = value[name]
    if not isinstance(value, str) or not SHA_RE.fullmatch(value.strip().lower()):
        shown = repr(value)[:40] if not isinstance(value, dict | list) else type(value).__name__
        raise ProbeFailed(f"answered {shown}, which is not a commit sha")
    return value.strip().lower()


def same_commit(a: str, b: str) -> bool:
    """Full and short shas of one commit match (at least 7 digits in common)."""
    return bool(a and b) and min(len(a), len(b)) >= 7 and (a.startswith(b) or b.startswith(a))


def check(environment: Environment) -> Finding:
    """Ask the environment's target once (no database write)."""
    try:
        serving = read_version(environment.version_url, environment.version_field or "sha")
    except ProbeFailed as exc:
        return Finding(ProbeStatus.UNREACHABLE, detail=str(exc)[:300])
    release = environment.current_release
    deployed = release.build.sha if release else ""
    status = ProbeStatus.OK if same_commit(serving, deployed) else ProbeStatus.DRIFT
    return Finding(status, serving_sha=serving)


def record(environment: Environment, finding: Finding, now: datetime | None = None) -> Probe:
    """Store what the probe found; a change of status is an audit event (and so news)."""
    now = now or timezone.now()
    release = environment.current_release
    deployed = release.build.sha if release else ""
    with transaction.atomic():
        probe = Probe.objects.select_for_update().filter(environment=environment).first()
        changed = probe is None or probe.status != finding.status
        if probe is None:
            probe = Probe(environment=environment, since=now)
        elif changed:
            probe.since = now
        probe.status, probe.serving_sha, probe.detail = (
            finding.status,
            finding.serving_sha,
            finding.detail,
        )
        probe.deployed_sha, probe.checked_at = deployed, now
        probe.save()
        if changed:
            audit.record(
                "probe_changed",
                f"{environment.name}: {describe(probe)}",
                pipeline=environment.pipeline,
                environment=environment,
                status=probe.status,
                serving_sha=probe.serving_sha,
                deployed_sha=deployed,
                detail=probe.detail,
            )
            transaction.on_commit(lambda: publish_board(environment.pipeline_id), robust=True)
    return probe


def describe(probe: Probe) -> str:
    """One line for people: the audit log, notifications."""
    if probe.status == ProbeStatus.OK:
        return f"serves {probe.serving_sha[:7]}, as deployed"
    if probe.status == ProbeStatus.DRIFT:
        deployed = probe.deployed_sha[:7] or "nothing"
        return f"drift: serves {probe.serving_sha[:7]}, deployed {deployed}"
    return f"unreachable: {probe.detail}"


def due_environments(now: datetime) -> list[Environment]:
    """Environments with a version_url whose last check is older than their interval, and
    none being deployed (a deployment changes what they serve: no verdict meanwhile)."""
    # A per-branch template never runs anything: its version_url holds {port} for its
    # branch environments (docs/branch-environments.md).
    probed = Environment.objects.exclude(version_url="").exclude(per_branch=True)
    if not probed.exists():
        # The usual answer, read from one table: a tick every few seconds stays cheap (and
        # takes no locks on the other tables while they are being emptied or migrated).
        return []
    deploying = Deployment.objects.filter(status__in=ACTIVE_STATUSES).values("environment_id")
    candidates = probed.exclude(pk__in=deploying).select_related(
        "pipeline", "current_release__build", "probe"
    )
    return [
        env
        for env in candidates
        if not hasattr(env, "probe")
        or env.probe.checked_at + timedelta(seconds=env.probe_interval) <= now
    ]


@shared_task(name="pipelines.probe_environments")
def probe_environments_task() -> int:
    """Celery beat's tick (every SLIPWAY_PROBE_TICK_SECONDS): checks the environments due."""
    return len(probe_due_environments())


def probe_due_environments(now: datetime | None = None) -> list[Probe]:
    """Check every environment that is due, one after the other; each within its limits."""
    found = []
    for environment in due_environments(now or timezone.now()):
        try:
            found.append(record(environment, check(environment)))
        except Exception:  # one environment's trouble must not stop the others' checks
            logger.exception("the drift probe of %s failed", environment)
    return found
