"""A full disk during an upload or an unpack: a clear message naming it, nothing half-written
left behind, and the environment (and Slipway) keep serving. The disks are real: small tmpfs
filesystems mounted for the test (root only)."""

import hashlib
import os
import subprocess

import pytest
import requests

from pipelines.builds import record_build
from pipelines.deploys import request_deployment
from pipelines.models import DeploymentStatus
from pipelines.runner.run import run_deployment
from tests.deploying import free_port, make_local, sample_build, stop_app
from tests.live import bearer, run_server
from tests.services import need

MIB = 1024 * 1024


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB filesystem of its own; removed after the test."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    mounted = os.geteuid() == 0 and (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)],
            capture_output=True,
        ).returncode
        == 0
    )
    need(mounted, "mounting a small tmpfs needs root (and CAP_SYS_ADMIN)")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


def files_under(path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file())


@pytest.mark.django_db(transaction=True)
def test_an_upload_that_fills_the_store_is_refused_with_507_and_leaves_nothing(
    small_disk, pipeline, token_for
):
    sha = "d15cf011" + "0" * 32
    record_build(pipeline, sha=sha, status="passed", branch="topic")
    headers = bearer(token_for("developer"))
    store = small_disk / "store" / "artifacts"  # daphne logs next to it, in small-disk/store

    def upload(server, data: bytes) -> requests.Response:
        return requests.put(
            f"{server.url}/api/v1/pipelines/webshop/builds/{sha}/artifact",
            data=data,
            headers={**headers, "X-Artifact-SHA256": hashlib.sha256(data).hexdigest()},
            timeout=30,
        )

    with run_server(store) as server:
        response = upload(server, os.urandom(2 * MIB))
        assert response.status_code == 507, response.text
        assert response.json()["error"]["code"] == "storage_full"
        assert "The artifact store" in response.json()["error"]["message"]
        assert "is full" in response.json()["error"]["message"]
        assert files_under(store) == []
        again = upload(server, os.urandom(1000))
        assert again.status_code == 201, again.text


def test_an_unpack_that_fills_the_target_fails_and_the_previous_release_keeps_serving(
    small_disk, pipeline, fast_runner
):
    target = small_disk / "target"
    dev = make_local(pipeline.environments.get(name="dev"), target, free_port())
    try:
        first = sample_build(pipeline, "First")
        assert run_deployment(request_deployment(dev, first, cause="manual").pk).status == (
            DeploymentStatus.SUCCEEDED
        )
        huge = sample_build(pipeline, "Huge", **{"data/zeros.bin": bytes(2 * MIB)})

        deployment = run_deployment(request_deployment(dev, huge, cause="manual").pk)

        assert deployment.status == DeploymentStatus.FAILED
        assert deployment.error.startswith(f"release failed: The disk of {target / 'releases'}")
        assert "is full while unpacking" in deployment.error
        assert sorted(p.name for p in (target / "releases").iterdir()) == ["v1"]
        assert os.readlink(target / "current") == "releases/v1"
        with requests.Session() as session:
            session.trust_env = False
            answer = session.get(dev.driver_settings["health_url"], timeout=5).json()
        assert answer["sha"] == first.sha
    finally:
        stop_app(target)
