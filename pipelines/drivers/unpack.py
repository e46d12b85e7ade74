"""Unpacking an artifact without trusting it.

Every member is checked before anything is written: no absolute paths, no `..`, no links
leading out of the tree, no device files or FIFOs, and no more than `max_bytes` once
unpacked (a small .tar.gz can expand to terabytes). Python's own "data" extraction filter
then runs as a second guard.
"""

import posixpath
import tarfile
from pathlib import Path

from pipelines.errors import is_disk_full
from pipelines.runner.context import StepFailed

MAX_MEMBERS = 200_000


class UnsafeArchive(StepFailed):
    pass


def safe_unpack(archive: Path, destination: Path, *, max_bytes: int) -> int:
    """Unpack the .tar(.gz) `archive` into the existing directory `destination`.

    Returns the number of members; raises UnsafeArchive naming the first bad member.
    """
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = _checked_members(tar, max_bytes)
            tar.extractall(destination, members=members, filter="data")
    except tarfile.FilterError as exc:
        raise UnsafeArchive(f"The artifact was refused while unpacking: {exc}") from None
    except (tarfile.TarError, EOFError, OSError) as exc:
        if isinstance(exc, UnsafeArchive):
            raise
        if is_disk_full(exc):
            raise StepFailed(
                f"The disk of {destination.parent} is full while unpacking ({exc.strerror}); "
                f"what was unpacked is removed"
            ) from None
        raise UnsafeArchive(f"The artifact is not a readable .tar.gz: {exc}") from None
    return len(members)


def _checked_members(tar: tarfile.TarFile, max_bytes: int) -> list[tarfile.TarInfo]:
    members = []
    total = 0
    for member in tar:
        problem = member_problem(member)
        if problem:
            raise UnsafeArchive(f"The artifact was refused: {member.name!r} {problem}.")
        if member.isfile():
            total += member.size
        if total > max_bytes:
            raise UnsafeArchive(
                f"The artifact was refused: it expands to more than {max_bytes:,} bytes "
                f"(at {member.name!r})."
            )
        members.append(member)
        if len(members) > MAX_MEMBERS:
            raise UnsafeArchive(f"The artifact was refused: more than {MAX_MEMBERS:,} entries.")
    return members


def member_problem(member: tarfile.TarInfo) -> str | None:
    """Why this member may not be unpacked, or None."""
    name = member.name
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "is an absolute path"
    if ".." in name.replace("\\", "/").split("/"):
        return "contains `..`"
    if member.ischr() or member.isblk():
        return "is a device file"
    if member.isfifo():
        return "is a FIFO"
    if member.issym():
        target = posixpath.normpath(posixpath.join(posixpath.dirname(name), member.linkname))
        if member.linkname.startswith("/") or _leaves_tree(target):
            return f"is a symbolic link leaving the tree (to {member.linkname!r})"
    elif member.islnk():
        if member.linkname.startswith("/") or _leaves_tree(posixpath.normpath(member.linkname)):
            return f"is a hard link leaving the tree (to {member.linkname!r})"
    elif not (member.isfile() or member.isdir()):
        return "is not a file, directory or link"
    return None


def _leaves_tree(normalized: str) -> bool:
    return normalized == ".." or normalized.startswith("../")
