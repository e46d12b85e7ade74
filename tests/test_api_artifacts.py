"""PUT …/builds/{sha}/artifact: the bytes streamed into the content-addressed store."""

import hashlib
import os
import socket
import time
from pathlib import Path

import pytest
import requests

from pipelines.artifacts import artifact_path
from pipelines.builds import record_build
from pipelines.models import Artifact, Build, Release
from tests.live import LIVE_MAX_ARTIFACT_BYTES, bearer

SHA = "c0ffee0000000000000000000000000000000001"
OTHER_SHA = "c0ffee0000000000000000000000000000000002"
PAYLOAD = os.urandom(300_000)
DIGEST = hashlib.sha256(PAYLOAD).hexdigest()


@pytest.fixture
def build(pipeline):
    return record_build(pipeline, sha=SHA, status="running", branch="master")[0]


@pytest.fixture
def put(slipway_server, token_for):
    token = token_for("developer")

    def send(body=PAYLOAD, *, sha=SHA, digest=DIGEST, token=token, **kwargs):
        headers = bearer(token) if token else {}
        if digest is not None:
            headers["X-Artifact-SHA256"] = digest
        url = f"{slipway_server.url}/api/v1/pipelines/webshop/builds/{sha}/artifact"
        return requests.put(url, data=body, headers=headers, **kwargs)

    return send


def stored_files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file())


def wait_until_empty(root: Path, seconds: float = 5) -> list[Path]:
    deadline = time.monotonic() + seconds
    while stored_files(root) and time.monotonic() < deadline:
        time.sleep(0.05)
    return stored_files(root)


def test_it_stores_and_attaches_the_artifact_with_201(put, build, slipway_server):
    response = put()
    assert response.status_code == 201
    assert response.json() == {"digest": f"sha256:{DIGEST}", "size": len(PAYLOAD)}
    build.refresh_from_db()
    assert build.artifact.digest == f"sha256:{DIGEST}"
    assert artifact_path(build.artifact.digest).read_bytes() == PAYLOAD
    assert stored_files(slipway_server.artifact_dir) == [artifact_path(build.artifact.digest)]


def test_the_same_bytes_again_answer_200_and_are_stored_once(put, build, pipeline, slipway_server):
    record_build(pipeline, sha=OTHER_SHA, status="running")
    assert put().status_code == 201
    stored = artifact_path(f"sha256:{DIGEST}").stat()
    again = put(digest=f"sha256:{DIGEST.upper()}")
    assert again.status_code == 200
    assert again.json()["digest"] == f"sha256:{DIGEST}"
    assert put(sha=OTHER_SHA).status_code == 201
    assert Artifact.objects.count() == 1
    assert stored_files(slipway_server.artifact_dir) == [artifact_path(f"sha256:{DIGEST}")]
    assert artifact_path(f"sha256:{DIGEST}").stat().st_ino == stored.st_ino  # kept, not rewritten


def test_an_artifact_on_a_passed_build_deploys_where_its_branch_goes(put, build):
    Build.objects.filter(pk=build.pk).update(status="passed")
    assert put().status_code == 201
    release = Release.objects.get()
    assert (release.environment.name, release.build_id) == ("uat", build.pk)


def test_it_answers_400_without_the_digest_header(put, build, slipway_server):
    response = put(digest=None)
    assert response.status_code == 400
    assert "X-Artifact-SHA256" in response.json()["error"]["message"]
    assert stored_files(slipway_server.artifact_dir) == []


def test_it_answers_401_without_a_token(put, build, slipway_server):
    assert put(token=None).status_code == 401
    assert stored_files(slipway_server.artifact_dir) == []


def test_it_answers_403_to_a_support_token(put, build, token_for, slipway_server):
    assert put(token=token_for("support")).status_code == 403
    build.refresh_from_db()
    assert build.artifact is None and stored_files(slipway_server.artifact_dir) == []


def test_it_answers_404_for_an_unknown_build(put, build, slipway_server):
    assert put(sha="0" * 40).status_code == 404
    assert put(sha="zzz").status_code == 404
    assert stored_files(slipway_server.artifact_dir) == []


def test_it_answers_409_to_a_different_artifact_and_keeps_the_first(put, build, slipway_server):
    assert put().status_code == 201
    other = b"other bytes"
    response = put(other, digest=hashlib.sha256(other).hexdigest())
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "artifact_conflict"
    build.refresh_from_db()
    assert build.artifact.digest == f"sha256:{DIGEST}"
    assert len(stored_files(slipway_server.artifact_dir)) == 1


def test_it_answers_413_past_the_limit_and_keeps_nothing(put, build, slipway_server):
    too_big = b"x" * (LIVE_MAX_ARTIFACT_BYTES + 1)
    response = put(too_big, digest=hashlib.sha256(too_big).hexdigest())
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "artifact_too_large"
    assert wait_until_empty(slipway_server.artifact_dir) == []


def test_the_limit_holds_without_a_content_length(put, build, slipway_server):
    too_big = b"x" * (LIVE_MAX_ARTIFACT_BYTES + 1)
    chunks = (too_big[i : i + 65536] for i in range(0, len(too_big), 65536))  # sent chunked
    response = put(chunks, digest=hashlib.sha256(too_big).hexdigest())
    assert response.status_code == 413
    assert wait_until_empty(slipway_server.artifact_dir) == []
    assert Artifact.objects.count() == 0


def test_it_answers_422_when_the_bytes_do_not_match_the_digest(put, build, slipway_server):
    response = put(digest="0" * 64)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "digest_mismatch"
    build.refresh_from_db()
    assert build.artifact is None
    assert wait_until_empty(slipway_server.artifact_dir) == []


def test_it_answers_422_to_a_digest_header_that_is_not_a_sha256(put, build):
    response = put(digest="md5:abc")
    assert response.status_code == 422
    assert response.json()["error"]["details"]["field"] == "X-Artifact-SHA256"


def test_a_truncated_upload_leaves_no_file_behind(build, slipway_server, token_for):
    host, port = slipway_server.url.removeprefix("http://").split(":")
    head = (
        f"PUT /api/v1/pipelines/webshop/builds/{SHA}/artifact HTTP/1.1\r\n"
        f"Host: {host}\r\nAuthorization: Bearer {token_for('developer')}\r\n"
        f"X-Artifact-SHA256: {DIGEST}\r\nContent-Length: {len(PAYLOAD)}\r\n\r\n"
    )
    with socket.create_connection((host, int(port))) as conn:
        conn.sendall(head.encode() + PAYLOAD[:100_000])
        time.sleep(0.3)  # let the server start storing
    assert wait_until_empty(slipway_server.artifact_dir) == []
    build.refresh_from_db()
    assert build.artifact is None and Artifact.objects.count() == 0


@pytest.mark.django_db
def test_the_django_view_serves_the_endpoint_too(build, token_for, settings, tmp_path):
    """Under a server without the streaming app (the test client here), Django's view
    stores the same way."""
    from django.test import Client

    settings.SLIPWAY_ARTIFACT_DIR = tmp_path
    settings.SLIPWAY_MAX_ARTIFACT_BYTES = 1000
    client = Client(headers=bearer(token_for("developer")))
    url = f"/api/v1/pipelines/webshop/builds/{SHA}/artifact"
    small = b"small"
    small_digest = hashlib.sha256(small).hexdigest()
    assert client.put(url, b"other", headers={"X-Artifact-SHA256": small_digest}).status_code == 422
    response = client.put(url, b"y" * 1001, headers={"X-Artifact-SHA256": small_digest})
    assert response.status_code == 413
    assert stored_files(tmp_path) == []
    response = client.put(url, small, headers={"X-Artifact-SHA256": small_digest})
    assert response.status_code == 201
    assert stored_files(tmp_path) == [
        tmp_path / "sha256" / small_digest[:2] / f"{small_digest}.tar.gz"
    ]
