"""Demo data for `make run`: one user per role and a few builds of the webshop pipeline.

Everything goes through the same use-cases the REST API calls, so the demo
shows what CI would produce.
"""

import io
import tarfile
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import Group, User

from pipelines.artifacts import store_artifact
from pipelines.builds import attach_artifact, record_build
from pipelines.config import load_pipeline_file
from pipelines.deploys import request_deployment
from pipelines.models import Build, Pipeline, ReleaseCause
from pipelines.roles import Role

DEMO_PASSWORD = "slipway-demo"
DEMO_PIPELINE = Path(settings.BASE_DIR) / "examples" / "webshop.toml"

# (sha, branch, message, author, tests (passed, failed, skipped), coverage)
DEMO_BUILDS = [
    ("4f1c2a9e8b7d6c5b4a39281706f5e4d3c2b1a098", "master", "Checkout: show delivery dates",
     "Ada Lovelace", (412, 0, 3), "87.40"),
    ("9a8b7c6d5e4f30211f2e3d4c5b6a79880f1e2d3c", "master", "Cart: keep items across logins",
     "Grace Hopper", (418, 0, 3), "88.10"),
    ("c0ffee1234567890abcdef1234567890abcdef12", "dev", "WIP: gift cards",
     "Linus Torvalds", (420, 0, 3), "86.95"),
]


def ensure_demo_users() -> list[tuple[str, str]]:
    """One user per role, named after it; existing users keep their password."""
    made = []
    for role in Role:
        user, created = User.objects.get_or_create(
            username=role.value, defaults={"email": f"{role.value}@example.com"}
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        user.groups.add(Group.objects.get_or_create(name=role.value)[0])
        made.append((role.value, role.label))
    return made


def demo_artifact(sha: str, message: str) -> bytes:
    """A small .tar.gz standing in for a build's output."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in (("VERSION", sha), ("CHANGES", message)):
            data = f"{text}\n".encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0  # same bytes every time: content-addressed
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def ensure_demo_pipeline() -> Pipeline:
    pipeline = load_pipeline_file(DEMO_PIPELINE)
    if pipeline.builds.exists():
        return pipeline  # running `make run` again keeps what is there
    for sha, branch, message, author, (passed, failed, skipped), coverage in DEMO_BUILDS:
        status = "passed" if failed == 0 else "failed"
        build, _ = record_build(
            pipeline,
            sha=sha,
            branch=branch,
            message=message,
            author=author,
            url=f"https://ci.example.com/webshop/{sha[:7]}",
            status=status,
            tests={"passed": passed, "failed": failed, "skipped": skipped},
            coverage=coverage,
        )
        artifact = store_artifact([demo_artifact(sha, message)])
        attach_artifact(build, artifact)
    _seed_live(pipeline)
    return pipeline


def _seed_live(pipeline: Pipeline) -> None:
    """Live runs the older master build, so uat is one build ahead, ready to promote."""
    live = pipeline.environments.filter(name="live").first()
    first = Build.objects.filter(pipeline=pipeline, sha=DEMO_BUILDS[0][0]).first()
    if live and first and live.current_release is None:
        request_deployment(live, first, cause=ReleaseCause.PROMOTION, description="promotion from uat")
