"""The Heroku driver against a local fake of the Platform API's documented shapes
(https://devcenter.heroku.com/articles/platform-api-reference: app update, slug create,
release create/info; releasing another app's slug is how promotion copies slugs)."""

import gzip
import io
import json
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pipelines.deploys import request_deployment
from pipelines.models import Artifact, DeploymentStatus
from pipelines.runner.run import run_deployment
from tests.deploying import artifact_build

TOKEN = "heroku-test-token"


class FakeHeroku:
    """Answers like api.heroku.com; `final_status` is what the release ends as."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict | bytes | None]] = []
        self.headers: list[dict] = []
        self.final_status = "succeeded"
        self.blobs: dict[str, bytes] = {}
        self.polls = 0
        self.releases: list[dict] = []  # what POST /apps/{app}/releases created, oldest first
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_PATCH(self) -> None:
                body = self.body()
                fake.record(self, body)
                self.json(200, {"name": self.path.split("/")[2], **body})

            def do_POST(self) -> None:
                body = self.body()
                fake.record(self, body)
                app = self.path.split("/")[2]
                if self.path.endswith("/slugs"):
                    blob = {"method": "put", "url": f"{fake.url}/blobs/slug-1"}
                    self.json(201, {"id": "slug-1", "blob": blob, **body})
                elif self.path.endswith("/releases"):
                    release = {
                        "id": f"release-of-{app}",
                        "version": 42,
                        "status": "pending",
                        "slug": {"id": body["slug"]},
                        "description": body.get("description"),
                        "output_stream_url": f"{fake.url}/streams/{app}",
                    }
                    fake.releases.append(release)
                    self.json(201, release)

            def do_PUT(self) -> None:
                data = self.rfile.read(int(self.headers["Content-Length"]))
                fake.record(self, data)
                fake.blobs[self.path] = data
                self.send_response(200)
                self.end_headers()

            def do_GET(self) -> None:
                fake.record(self, None)
                if self.path.endswith("/releases"):  # newest first, as Range "order=desc" asks
                    self.json(206, list(reversed(fake.releases)))
                elif self.path.startswith("/streams/"):
                    output = b"Running release command...\nMigrating database\nDone\n"
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(output)))
                    self.end_headers()
                    self.wfile.write(output)
                else:
                    fake.polls += 1
                    status = "pending" if fake.polls < 2 else fake.final_status
                    self.json(
                        200, {"id": self.path.split("/")[-1], "version": 42, "status": status}
                    )

            def body(self) -> dict:
                return json.loads(self.rfile.read(int(self.headers["Content-Length"])))

            def json(self, status: int, body: dict | list) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def record(self, handler: BaseHTTPRequestHandler, body) -> None:
        self.requests.append((handler.command, handler.path, body))
        self.headers.append(dict(handler.headers))

    def calls(self) -> list[tuple[str, str]]:
        return [(method, path) for method, path, _ in self.requests]

    def body_of(self, method: str, path: str):
        return next(b for m, p, b in self.requests if (m, p) == (method, path))


@pytest.fixture
def heroku(settings, monkeypatch, fast_runner):
    fake = FakeHeroku()
    settings.SLIPWAY_HEROKU_API_URL = fake.url
    monkeypatch.setenv("HEROKU_API_TOKEN", TOKEN)
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


def slug_tarball() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in (
            ("./app/Procfile", b"web: python app.py\nworker: python jobs.py\n"),
            ("./app/app.py", b"print('hello')\n"),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(buffer.getvalue(), mtime=0)


def heroku_env(pipeline, name: str, app: str):
    env = pipeline.environments.get(name=name)
    env.driver = "heroku"
    env.driver_settings = {"app": app, "api_token_env": "HEROKU_API_TOKEN"}
    env.save()
    return env


def deploy(env, build):
    return run_deployment(request_deployment(env, build, cause="manual").pk)


def test_it_uploads_the_artifact_as_a_slug_and_releases_it(pipeline, heroku):
    uat = heroku_env(pipeline, "uat", "webshop-uat")
    data = slug_tarball()
    build = artifact_build(pipeline, data, message="Add gift cards")

    deployment = deploy(uat, build)

    assert deployment.status == DeploymentStatus.SUCCEEDED, deployment.error
    assert heroku.calls() == [
        ("PATCH", "/apps/webshop-uat"),
        ("POST", "/apps/webshop-uat/slugs"),
        ("PUT", "/blobs/slug-1"),
        ("POST", "/apps/webshop-uat/releases"),
        ("GET", "/streams/webshop-uat"),
        ("GET", "/apps/webshop-uat/releases/release-of-webshop-uat"),
        ("GET", "/apps/webshop-uat/releases/release-of-webshop-uat"),
        ("PATCH", "/apps/webshop-uat"),
    ]
    patches = [b for m, _, b in heroku.requests if m == "PATCH"]
    assert patches == [{"maintenance": True}, {"maintenance": False}]
    slug = heroku.body_of("POST", "/apps/webshop-uat/slugs")
    assert slug["process_types"] == {"web": "python app.py", "worker": "python jobs.py"}
    assert slug["checksum"] == "SHA256:" + build.artifact.digest.removeprefix("sha256:")
    assert slug["commit"] == build.sha
    assert heroku.blobs["/blobs/slug-1"] == data
    assert heroku.body_of("POST", "/apps/webshop-uat/releases")["slug"] == "slug-1"
    api_headers = [
        h
        for (m, p, _), h in zip(heroku.requests, heroku.headers, strict=True)
        if p.startswith("/apps")
    ]
    assert all(h["Authorization"] == f"Bearer {TOKEN}" for h in api_headers)
    assert all(h["Accept"] == "application/vnd.heroku+json; version=3" for h in api_headers)
    log = list(deployment.log_lines.values_list("text", flat=True))
    assert "Migrating database" in log, "\n".join(log)
    assert Artifact.objects.get(pk=build.artifact_id).heroku_slug_id == "slug-1"
    assert [s.name for s in deployment.steps.all()] == [
        "maintenance on",
        "release",
        "release command",
        "maintenance off",
    ]


def test_the_next_app_gets_a_release_of_the_same_slug(pipeline, heroku):
    build = artifact_build(pipeline, slug_tarball())
    deploy(heroku_env(pipeline, "uat", "webshop-uat"), build)
    heroku.requests.clear()
    heroku.polls = 0

    deployment = deploy(heroku_env(pipeline, "live", "webshop-live"), build)

    assert deployment.status == DeploymentStatus.SUCCEEDED
    assert ("POST", "/apps/webshop-live/slugs") not in heroku.calls()
    assert heroku.body_of("POST", "/apps/webshop-live/releases")["slug"] == "slug-1"


def test_a_failed_release_fails_the_deployment_and_ends_maintenance(pipeline, heroku):
    uat = heroku_env(pipeline, "uat", "webshop-uat")
    heroku.final_status = "failed"

    deployment = deploy(uat, artifact_build(pipeline, slug_tarball()))

    assert deployment.status == DeploymentStatus.FAILED
    assert deployment.error == (
        "release command failed: Heroku release v42 of webshop-uat failed; "
        "the app keeps running its previous release"
    )
    assert heroku.requests[-1] == ("PATCH", "/apps/webshop-uat", {"maintenance": False})
    assert deployment.steps.get(name="maintenance off").status == "succeeded"
    uat.refresh_from_db()
    assert uat.current_release is None


def test_without_the_token_it_fails_naming_the_variable(pipeline, heroku, monkeypatch):
    monkeypatch.delenv("HEROKU_API_TOKEN")
    uat = heroku_env(pipeline, "uat", "webshop-uat")

    deployment = deploy(uat, artifact_build(pipeline, slug_tarball()))

    assert deployment.status == DeploymentStatus.FAILED
    assert "HEROKU_API_TOKEN is not set" in deployment.error
    assert heroku.requests == []
