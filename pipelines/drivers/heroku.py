"""The `heroku` driver: the Heroku Platform API over `requests`.

Where the slug comes from: the artifact IS the slug — a .tar.gz laid out as Heroku slugs
are (`./app/…`, with `app/Procfile` naming the process types). The first time an artifact
goes to Heroku it is uploaded as a slug (POST /apps/{app}/slugs with its SHA256 checksum,
then PUT to the returned blob URL) and the slug id is kept on the artifact. Every later
release of the same artifact — promotion to the next app, a rollback — creates a new
release of that same slug (POST /apps/{app}/releases), like `heroku pipelines:promote`.

Steps: maintenance on (the app's flag), backup (the environment's `backup_command`, e.g.
`heroku pg:backups:capture`, when it gives one), release (the new release), release command
(stream the release phase's `output_stream_url`, poll the release until it succeeds or
fails), maintenance off. After a failure the runner turns the app's maintenance flag off
again; Heroku keeps running the previous release when a release fails.
"""

import os

import requests
from django.conf import settings

from pipelines.drivers.base import (
    BACKUP,
    MAINTENANCE_OFF,
    MAINTENANCE_ON,
    RELEASE,
    RELEASE_COMMAND,
    Driver,
)
from pipelines.drivers.unpack import open_tar
from pipelines.models import Artifact
from pipelines.runner.context import RunContext, StepFailed

ACCEPT = "application/vnd.heroku+json; version=3"
TIMEOUT = (10, 60)  # connect, read


class HerokuDriver(Driver):
    name = "heroku"

    def __init__(self, ctx: RunContext) -> None:
        super().__init__(ctx)
        self.app = self.settings.get("app", "")
        self.api = settings.SLIPWAY_HEROKU_API_URL.rstrip("/")
        self.session = requests.Session()
        self.heroku_release: dict = {}

    def uses(self, step: str) -> bool:
        if step == BACKUP:
            return self.uses_release_step(step)
        return step in (MAINTENANCE_ON, RELEASE, RELEASE_COMMAND, MAINTENANCE_OFF)

    # --- steps (maintenance on/off and backup: pipelines/drivers/base.py) ---------------
    def release(self) -> None:
        slug_id = self.slug_for(self.ctx.release.artifact)
        self.ctx.record_intent(release=self.description())
        release = self.call(
            "POST",
            f"/apps/{self.app}/releases",
            json={"slug": slug_id, "description": self.description()},
        )
        self.heroku_release = release
        self.ctx.note(
            f"Heroku release v{release.get('version')} of slug {slug_id} created on {self.app} "
            f"({release.get('status')})."
        )

    def release_command(self) -> None:
        stream_url = self.heroku_release.get("output_stream_url")
        if stream_url:
            self.stream_output(stream_url)
        release = self.heroku_release
        while release.get("status") == "pending":
            self.ctx.sleep(self.ctx.timing.poll)
            release = self.call("GET", f"/apps/{self.app}/releases/{release['id']}")
        version = release.get("version")
        if release.get("status") != "succeeded":
            raise StepFailed(
                f"Heroku release v{version} of {self.app} {release.get('status')}; "
                f"the app keeps running its previous release"
            )
        self.ctx.note(f"Heroku release v{version} of {self.app} succeeded.")

    def settle(self) -> tuple[bool, str]:
        """Find the release the dead runner may have created (by its description) and wait
        for it to end (the runner turns maintenance off after, if it was turned on)."""
        label = self.ctx.release.label
        confirmed, what = False, f"interrupted before the Heroku release; {self.still_serves()}"
        if self.ctx.intent.get("release"):
            found = self.find_release(self.ctx.intent["release"])
            if found is None:
                what = f"interrupted before Heroku made the release; {self.still_serves()}"
            else:
                self.heroku_release = found
                try:
                    self.release_command()
                    confirmed = True
                    what = f"interrupted after the Heroku release; {label} confirmed by Heroku"
                except StepFailed as exc:
                    self.ctx.note(str(exc))
                    what = (
                        f"interrupted after the Heroku release, which failed; {self.still_serves()}"
                    )
        return confirmed, what

    def find_release(self, description: str) -> dict | None:
        """The newest releases of the app (Heroku's Range header pages them), ours or None."""
        releases = self.call(
            "GET", f"/apps/{self.app}/releases", headers={"Range": "version ..; order=desc, max=20"}
        )
        return next((r for r in releases if r.get("description") == description), None)

    # --- the API ------------------------------------------------------------------------
    def set_maintenance(self, on: bool) -> None:
        self.call("PATCH", f"/apps/{self.app}", json={"maintenance": on})
        self.ctx.note(f"Maintenance mode of {self.app} is {'on' if on else 'off'}.")

    def slug_for(self, artifact: Artifact | None) -> str:
        if artifact is None:
            raise StepFailed("The release has no artifact, so there is no slug to release.")
        if artifact.heroku_slug_id:
            self.ctx.note(f"Releasing slug {artifact.heroku_slug_id}, made of {artifact.digest}.")
            return artifact.heroku_slug_id
        path = self.ctx.artifact_file()
        slug = self.call(
            "POST",
            f"/apps/{self.app}/slugs",
            json={
                "process_types": process_types(path),
                "checksum": "SHA256:" + artifact.digest.removeprefix("sha256:"),
                "commit": self.ctx.build.sha,
                "commit_description": self.ctx.build.subject[:200],
            },
        )
        blob = slug.get("blob") or {}
        self.ctx.note(f"Uploading {artifact.size:,} bytes as slug {slug.get('id')}.")
        with path.open("rb") as body:
            response = self.session.request(
                (blob.get("method") or "PUT").upper(),
                blob.get("url", ""),
                data=body,
                timeout=TIMEOUT,
            )
        if not response.ok:
            raise StepFailed(f"Uploading the slug failed: HTTP {response.status_code}")
        Artifact.objects.filter(pk=artifact.pk).update(heroku_slug_id=slug["id"])
        artifact.heroku_slug_id = slug["id"]
        return slug["id"]

    def stream_output(self, url: str) -> None:
        """The release phase's output, line by line as Heroku sends it."""
        try:
            with self.session.get(url, stream=True, timeout=TIMEOUT) as response:
                if not response.ok:
                    self.ctx.note(
                        f"The release output is not available (HTTP {response.status_code})."
                    )
                    return
                for line in response.iter_lines():
                    self.ctx.output(line.decode("utf-8", errors="replace").rstrip("\r"))
        except requests.RequestException as exc:
            self.ctx.note(f"The release output stream broke off: {exc}")

    def call(
        self, method: str, path: str, json: dict | None = None, headers: dict | None = None
    ) -> dict | list:
        try:
            response = self.session.request(
                method,
                self.api + path,
                json=json,
                headers={**self.headers(), **(headers or {})},
                timeout=TIMEOUT,
            )
        except requests.RequestException as exc:
            raise StepFailed(f"Heroku API {method} {path} failed: {exc}") from None
        if not response.ok:
            raise StepFailed(f"Heroku API {method} {path}: {_error_message(response)}")
        try:
            return response.json()
        except ValueError:
            raise StepFailed(f"Heroku API {method} {path} answered without JSON") from None

    def headers(self) -> dict[str, str]:
        variable = self.setting("api_token_env")
        token = os.environ.get(variable, "")
        if not token:
            raise StepFailed(f"The Heroku API token variable {variable} is not set.")
        self.ctx.log.mask(token)  # an error body quoting the request must not show it
        return {"Accept": ACCEPT, "Authorization": f"Bearer {token}"}

    def description(self) -> str:
        release, build = self.ctx.release, self.ctx.build
        return f"Slipway {release.label}: {build.short_sha} {release.description}"[:200]


def process_types(path) -> dict[str, str]:
    """The process types of a slug, from its app/Procfile."""
    try:
        with open_tar(path, max_bytes=settings.SLIPWAY_MAX_UNPACKED_BYTES) as tar:
            for member in tar:
                if member.name in ("./app/Procfile", "app/Procfile") and member.isreg():
                    text = tar.extractfile(member).read(64 * 1024).decode("utf-8", "replace")
                    return parse_procfile(text)
    except OSError as exc:
        raise StepFailed(f"The artifact is not a readable slug: {exc}") from None
    raise StepFailed("The artifact has no app/Procfile, so Heroku would not know what to run.")


def parse_procfile(text: str) -> dict[str, str]:
    types = {}
    for line in text.splitlines():
        name, sep, command = line.partition(":")
        if sep and name.strip() and not name.lstrip().startswith("#"):
            types[name.strip()] = command.strip()
    if not types:
        raise StepFailed("The artifact's app/Procfile names no process types.")
    return types


def _error_message(response: requests.Response) -> str:
    try:
        body = response.json()
        return f"HTTP {response.status_code} {body.get('id', '')}: {body.get('message', '')}"
    except ValueError:
        return f"HTTP {response.status_code}"
