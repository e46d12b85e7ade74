"""Unpacking an artifact without trusting it, nor Python's tar extraction filter.

`tarfile` only *reads* the archive here, as a stream; every directory, file and link is
written by this module, after checking it against what was unpacked before it — never
against the disk, which the archive itself is shaping (CVE-2025-4517 defeats tarfile's
`data` filter that way on the Pythons this project runs on). docs/security.md lists the
rules; in short:

- names are relative and free of `..`, and never pass through a symbolic link of the
  archive, nor through a file; a name appears once (a directory may repeat);
- a symbolic link's target is resolved over the members unpacked so far and must stay in
  the release; `..` may only climb out of a directory already unpacked;
- a hard link must point to an earlier regular file of the archive;
- no device files, FIFOs or sparse files; PAX and GNU long-name headers are small;
- the decompressed stream, the unpacked bytes and the number of members are counted
  against the limits while reading, so a small .tar.gz cannot expand without bound.
"""

import bz2
import gzip
import lzma
import os
import shutil
import tarfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from pipelines.errors import is_disk_full
from pipelines.runner.context import StepFailed

MAX_MEMBERS = 200_000
# A PAX or GNU long-name header holds a path and a few attributes: a 64 KiB one is plenty.
MAX_HEADER_BYTES = 64 * 1024
# Per member, the stream may carry this much besides file data (header blocks, padding).
HEADER_BUDGET = 4 * 512
MAX_LINK_DEPTH = 40
CHUNK = 1024 * 1024
LONG_HEADERS = {
    tarfile.XHDTYPE: "PAX",
    tarfile.XGLTYPE: "PAX global",
    tarfile.SOLARIS_XHDTYPE: "PAX",
    tarfile.GNUTYPE_LONGNAME: "GNU long-name",
    tarfile.GNUTYPE_LONGLINK: "GNU long-link",
}


class UnsafeArchive(StepFailed):
    pass


def safe_unpack(archive: Path, destination: Path, *, max_bytes: int) -> int:
    """Unpack the .tar(.gz/.bz2/.xz) `archive` into the existing, empty `destination`.

    Returns the number of members; raises UnsafeArchive naming the first bad member, and
    then leaves `destination` empty again.
    """
    unpacker = _Unpacker(destination, max_bytes)
    try:
        with open_tar(archive, max_bytes=max_bytes) as tar:
            for member in tar:
                unpacker.add(member, tar)
    except BaseException as exc:
        _empty(destination)
        if is_disk_full(exc):
            raise StepFailed(
                f"The disk of {destination.parent} is full while unpacking ({exc.strerror}); "
                f"what was unpacked is removed"
            ) from None
        if isinstance(exc, OSError):  # reading errors are UnsafeArchive already: the disk
            raise StepFailed(f"Unpacking the artifact failed: {exc}") from None
        raise
    return unpacker.count


def _empty(directory: Path) -> None:
    """Remove what was unpacked, never following a link it made."""
    for child in directory.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


@contextmanager
def open_tar(archive: Path, *, max_bytes: int) -> Iterator[tarfile.TarFile]:
    """The archive as a tar stream whose headers and decompressed size are bounded."""
    limit = max_bytes + MAX_MEMBERS * HEADER_BUDGET
    with open(archive, "rb") as raw:
        try:
            stream = _CountingReader(_decompressed(raw), limit)
            with tarfile.open(fileobj=stream, mode="r|", tarinfo=_BoundedTarInfo) as tar:
                yield tar
        except (tarfile.TarError, EOFError) as exc:
            raise UnsafeArchive(f"The artifact is not a readable .tar.gz: {exc}") from None
        except RecursionError:  # a chain of thousands of PAX headers
            raise UnsafeArchive("The artifact was refused: too many chained headers.") from None


def _decompressed(raw: BinaryIO) -> BinaryIO:
    magic = raw.read(6)
    raw.seek(0)
    if magic.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=raw)
    if magic.startswith(b"BZh"):
        return bz2.BZ2File(raw)
    if magic.startswith(b"\xfd7zXZ\x00"):
        return lzma.LZMAFile(raw)
    return raw


class _CountingReader:
    """Counts what the decompressor yields; refuses past `limit` (a small .tar.gz can
    expand to terabytes)."""

    def __init__(self, inner: BinaryIO, limit: int) -> None:
        self.inner = inner
        self.limit = limit
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        try:
            data = self.inner.read(size if size >= 0 else CHUNK)
        except (OSError, EOFError, zlib.error, lzma.LZMAError) as exc:
            raise UnsafeArchive(f"The artifact is not a readable .tar.gz: {exc}") from None
        self.count += len(data)
        if self.count > self.limit:
            raise UnsafeArchive(
                f"The artifact was refused: its tar stream is larger than {self.limit:,} bytes."
            )
        return data


class _BoundedTarInfo(tarfile.TarInfo):
    """Refuses an oversized long-name or PAX header before tarfile reads it into memory."""

    def _proc_member(self, tar):
        kind = LONG_HEADERS.get(self.type)
        if kind and self.size > MAX_HEADER_BYTES:
            raise UnsafeArchive(
                f"The artifact was refused: a {kind} header of {self.size:,} bytes "
                f"(at most {MAX_HEADER_BYTES:,})."
            )
        return super()._proc_member(tar)


class _Unpacker:
    """Writes members one by one, remembering what each unpacked path is."""

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.kinds: dict[str, str] = {"": "dir"}  # path → "dir" | "file" | "link"
        self.links: dict[str, str] = {}  # symbolic link path → its target
        self.written = 0
        self.count = 0

    def add(self, member: tarfile.TarInfo, tar: tarfile.TarFile) -> None:
        self.count += 1
        if self.count > MAX_MEMBERS:
            raise UnsafeArchive(f"The artifact was refused: more than {MAX_MEMBERS:,} entries.")
        name = self.checked_name(member)
        if member.isdir():
            if self.kinds.get(name) != "dir":
                self.make_parents(name, member)
                self.mkdir(name)
        elif member.isreg():
            self.make_parents(name, member)
            self.write_file(name, member, tar)
        elif member.issym():
            self.make_parents(name, member)
            self.symlink(name, member)
        elif member.islnk():
            self.make_parents(name, member)
            self.hardlink(name, member)
        elif member.ischr() or member.isblk():
            self.refuse(member, "is a device file")
        elif member.isfifo():
            self.refuse(member, "is a FIFO")
        else:
            self.refuse(member, "is not a file, directory or link")

    # --- checks -------------------------------------------------------------------------
    def refuse(self, member: tarfile.TarInfo, problem: str) -> None:
        raise UnsafeArchive(f"The artifact was refused: {member.name!r} {problem}.")

    def checked_name(self, member: tarfile.TarInfo) -> str:
        name = member.name
        if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
            self.refuse(member, "is an absolute path")
        parts = name.replace("\\", "/").split("/")
        if ".." in parts:
            self.refuse(member, "contains `..`")
        if member.type == tarfile.GNUTYPE_SPARSE or member.sparse is not None:
            self.refuse(member, "is a sparse file")
        normalized = "/".join(part for part in name.split("/") if part not in ("", "."))
        if not normalized and not member.isdir():
            self.refuse(member, "has no name")
        if normalized in self.kinds and not (member.isdir() and self.kinds[normalized] == "dir"):
            self.refuse(member, "appears twice")
        return normalized

    def make_parents(self, name: str, member: tarfile.TarInfo) -> None:
        """Create the directories above `name`; refuse a path through a link or a file."""
        parts = name.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            parent = "/".join(parts[:depth])
            kind = self.kinds.get(parent)
            if kind == "link":
                self.refuse(member, f"passes through the symbolic link {parent!r}")
            if kind == "file":
                self.refuse(member, f"is inside {parent!r}, which is a file")
            if kind is None:
                self.mkdir(parent)

    def resolve(self, link: str, target: str, member: tarfile.TarInfo, depth: int = 0) -> str:
        """Where the symbolic link `link` → `target` leads, over what was unpacked so far."""
        if depth > MAX_LINK_DEPTH:
            self.refuse(member, "leads through too many symbolic links")
        if target.startswith("/") or not target:
            self.refuse(member, f"is a symbolic link to an absolute path ({member.linkname!r})")
        parts = link.split("/")[:-1]  # the link's directory
        for part in target.split("/"):
            if part in ("", "."):
                continue
            if part == "..":
                here = "/".join(parts)
                if not parts:
                    self.refuse(
                        member, f"is a symbolic link leaving the release (to {member.linkname!r})"
                    )
                if self.kinds.get(here) != "dir":
                    self.refuse(
                        member,
                        f"is a symbolic link that climbs out of {here!r}, which is not a "
                        f"directory unpacked before it (to {member.linkname!r})",
                    )
                parts.pop()
                continue
            parts.append(part)
            here = "/".join(parts)
            if here in self.links:
                parts = self.resolve(here, self.links[here], member, depth + 1).split("/")
                parts = [p for p in parts if p]
        return "/".join(parts)

    # --- writing --------------------------------------------------------------------------
    def path(self, name: str) -> Path:
        return self.root / name

    def mkdir(self, name: str) -> None:
        os.mkdir(self.path(name), 0o755)
        self.kinds[name] = "dir"

    def write_file(self, name: str, member: tarfile.TarInfo, tar: tarfile.TarFile) -> None:
        self.written += member.size
        if self.written > self.max_bytes:
            raise UnsafeArchive(
                f"The artifact was refused: it expands to more than {self.max_bytes:,} bytes "
                f"(at {member.name!r})."
            )
        # Executable bits as the archive says; never setuid, never writable by others.
        mode = (member.mode & 0o755) | 0o600
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        fd = os.open(self.path(name), flags, mode)
        self.kinds[name] = "file"
        source = tar.extractfile(member)
        left = member.size
        with os.fdopen(fd, "wb") as out:
            while left > 0:
                chunk = source.read(min(CHUNK, left))
                if not chunk:
                    self.refuse(member, "is cut short")
                out.write(chunk)
                left -= len(chunk)
        try:
            os.utime(self.path(name), (member.mtime, member.mtime), follow_symlinks=False)
        except (OverflowError, ValueError):
            pass  # a nonsense time is no reason to refuse the artifact

    def symlink(self, name: str, member: tarfile.TarInfo) -> None:
        self.resolve(name, member.linkname, member)
        os.symlink(member.linkname, self.path(name))
        self.kinds[name] = "link"
        self.links[name] = member.linkname

    def hardlink(self, name: str, member: tarfile.TarInfo) -> None:
        target = "/".join(p for p in member.linkname.split("/") if p not in ("", "."))
        if member.linkname.startswith("/") or self.kinds.get(target) != "file":
            self.refuse(
                member,
                f"is a hard link to {member.linkname!r}, which is not a regular file "
                "unpacked before it",
            )
        os.link(self.path(target), self.path(name), follow_symlinks=False)
        self.kinds[name] = "file"
