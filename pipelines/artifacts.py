"""The content-addressed artifact store.

Bytes are streamed to a temporary file while being hashed and counted, synced to disk
as they go (pipelines.artifact_writer), then moved into place atomically under their
digest, so a half-written or mismatched upload never becomes visible, a stored artifact
survives a power cut, and the same bytes are kept once.
"""

import hashlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError

from pipelines.artifact_writer import WriteBehindFile
from pipelines.errors import (
    ArtifactMismatch,
    ArtifactTooLarge,
    InvalidInput,
    StorageFull,
    is_disk_full,
)
from pipelines.models import Artifact
from pipelines.models.builds import DIGEST_RE


def store_root() -> Path:
    return Path(settings.SLIPWAY_ARTIFACT_DIR)


def artifact_path(digest: str) -> Path:
    """Where the bytes of `digest` live: <root>/sha256/ab/abcdef….tar.gz"""
    if not DIGEST_RE.match(digest):
        raise InvalidInput(f"{digest!r} is not a sha256 digest.", field="digest")
    hexdigest = digest.removeprefix("sha256:")
    return store_root() / "sha256" / hexdigest[:2] / f"{hexdigest}.tar.gz"


def store_artifact(
    chunks: Iterable[bytes], *, expected_sha256: str | None = None, max_bytes: int | None = None
) -> Artifact:
    """Stream `chunks` into the store and return the Artifact for their digest.

    Raises ArtifactTooLarge past `max_bytes` (counted while streaming, not
    trusted from a header) and ArtifactMismatch when the bytes do not hash to
    `expected_sha256`; in both cases nothing is kept.
    """
    if max_bytes is None:
        max_bytes = settings.SLIPWAY_MAX_ARTIFACT_BYTES
    expected = (expected_sha256 or "").strip().lower().removeprefix("sha256:") or None
    tmp_dir = store_root() / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    sha = hashlib.sha256()
    size = 0
    fd, tmp_name = tempfile.mkstemp(dir=tmp_dir, suffix=".partial")
    try:
        with os.fdopen(fd, "wb") as out, WriteBehindFile(out) as writer:
            for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise ArtifactTooLarge(
                        f"The artifact is larger than the limit of {max_bytes} bytes.",
                        limit=max_bytes,
                    )
                writer.write(chunk)
                sha.update(chunk)
            writer.finish()  # on disk before anyone is told it is stored
        digest = f"sha256:{sha.hexdigest()}"
        if expected is not None and expected != sha.hexdigest():
            raise ArtifactMismatch(
                f"The uploaded bytes hash to {digest}, not sha256:{expected}; nothing was kept.",
                expected=f"sha256:{expected}",
                actual=digest,
            )
        final = artifact_path(digest)
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.exists():
            os.unlink(tmp_name)  # the same bytes, stored already: keep that file as it is
        else:
            os.replace(tmp_name, final)
            os.chmod(final, 0o444)
        _fsync_directory(final.parent)  # and the rename with it
    except BaseException as exc:
        Path(tmp_name).unlink(missing_ok=True)
        if is_disk_full(exc):
            raise StorageFull(
                f"The artifact store ({store_root()}) is full: {exc.strerror}. Nothing was "
                f"kept; free some space (`python manage.py prune`) and upload again."
            ) from exc
        raise
    return _artifact_row(digest, size)


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _artifact_row(digest: str, size: int) -> Artifact:
    try:
        artifact, _ = Artifact.objects.get_or_create(digest=digest, defaults={"size": size})
    except IntegrityError:  # a parallel upload of the same bytes won the race
        artifact = Artifact.objects.get(digest=digest)
    return artifact
