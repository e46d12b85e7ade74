"""Unpacking refuses hostile tarballs before writing anything outside the release."""

import gzip
import io
import os
import posixpath
import re
import sys
import tarfile

import pytest

from pipelines.deploys import request_deployment
from pipelines.drivers.unpack import UnsafeArchive, safe_unpack
from pipelines.models import DeploymentStatus
from pipelines.runner.run import run_deployment
from tests.deploying import artifact_build


def tarball(path, *members: tuple[tarfile.TarInfo, bytes]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            info.size = len(data) if info.isfile() else 0
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)


def member(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


def huge_file(name: str) -> tuple[tarfile.TarInfo, bytes]:
    info = member(name)
    return info, b"\0" * 4096


HOSTILE = {
    "absolute path": ([(member("/tmp/slipway-pwned"), b"x")], "is an absolute path"),
    "dot-dot": ([(member("app/../../slipway-pwned"), b"x")], "contains `..`"),
    "symlink out": (
        [(member("escape", tarfile.SYMTYPE, "../../outside"), b"")],
        "symbolic link leaving the release",
    ),
    "hard link out": (
        [(member("escape", tarfile.LNKTYPE, "../outside"), b"")],
        "is a hard link to '../outside', which is not a regular file unpacked before it",
    ),
    "device file": ([(member("disk", tarfile.BLKTYPE), b"")], "is a device file"),
    "oversized expansion": (
        [huge_file("zeros"), huge_file("more-zeros")],
        "expands to more than 5,000 bytes .at 'more-zeros'.",
    ),
}


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_it_refuses_a_hostile_tarball(tmp_path, kind):
    members, message = HOSTILE[kind]
    archive = tmp_path / "artifact.tar.gz"
    tarball(archive, *members)
    release = tmp_path / "target" / "releases" / "v1"
    release.mkdir(parents=True)

    with pytest.raises(UnsafeArchive, match=message.replace("`", ".")):
        safe_unpack(archive, release, max_bytes=5000)

    assert list(release.iterdir()) == []
    assert not (tmp_path / "outside").exists()
    assert not (tmp_path / "slipway-pwned").exists()


def test_it_refuses_an_absolute_symlink_and_a_character_device(tmp_path):
    for kind, linkname in ((tarfile.SYMTYPE, "/etc/passwd"), (tarfile.CHRTYPE, "")):
        archive = tmp_path / "artifact.tar.gz"
        tarball(archive, (member("x", kind, linkname), b""))
        with pytest.raises(UnsafeArchive):
            safe_unpack(archive, tmp_path, max_bytes=5000)


def test_it_unpacks_an_honest_tarball_with_links_inside_the_tree(tmp_path):
    archive = tmp_path / "artifact.tar.gz"
    tarball(
        archive,
        (member("app", tarfile.DIRTYPE), b""),
        (member("app/main.py"), b"print('hi')\n"),
        (member("app/link.py", tarfile.SYMTYPE, "main.py"), b""),
        (member("bin/run", tarfile.SYMTYPE, "../app/main.py"), b""),
    )
    release = tmp_path / "release"
    release.mkdir()

    assert safe_unpack(archive, release, max_bytes=5000) == 4

    assert (release / "app" / "link.py").read_text() == "print('hi')\n"
    assert (release / "bin" / "run").read_text() == "print('hi')\n"


# --- symbolic link chains, CVE-2025-4517, headers, counts -----------------------------------
# Unpacking must not depend on tarfile's own "data" filter: on the Pythons this project runs
# on (3.12.1, 3.13.0) the PoC below gets through it. Each tarball is tried against a release
# directory with files beside and above it; nothing may change or appear outside it.

CHAINS = {
    "a file written through a symbolic link to a directory": (
        [
            (member("sub", tarfile.DIRTYPE), b""),
            (member("link", tarfile.SYMTYPE, "sub"), b""),
            (member("link/pwned"), b"x"),
        ],
        "passes through the symbolic link 'link'",
    ),
    "a link that climbs out of a directory a later member turns into a link": (
        [
            (member("up", tarfile.SYMTYPE, "later/.."), b""),
            (member("later", tarfile.SYMTYPE, "."), b""),
        ],
        "climbs out of 'later', which is not a directory unpacked before it",
    ),
    "a link whose target climbs out through another link": (
        [
            (member("d", tarfile.DIRTYPE), b""),
            (member("d/top", tarfile.SYMTYPE, ".."), b""),
            (member("escape", tarfile.SYMTYPE, "d/top/.."), b""),
        ],
        "symbolic link leaving the release (to 'd/top/..')",
    ),
    "a link to the parent": ([(member("up", tarfile.SYMTYPE, ".."), b"")], "leaving the release"),
    "a file replaced by a link": (
        [(member("app.py"), b"print()"), (member("app.py", tarfile.SYMTYPE, "x"), b"")],
        "appears twice",
    ),
    "a hard link to a link": (
        [
            (member("d", tarfile.DIRTYPE), b""),
            (member("l", tarfile.SYMTYPE, "d"), b""),
            (member("h", tarfile.LNKTYPE, "l"), b""),
        ],
        "is a hard link to 'l', which is not a regular file unpacked before it",
    ),
    "a hard link to a later member": (
        [(member("h", tarfile.LNKTYPE, "later"), b""), (member("later"), b"x")],
        "which is not a regular file unpacked before it",
    ),
    "a file inside a file": (
        [(member("f"), b"x"), (member("f/g"), b"y")],
        "is inside 'f', which is a file",
    ),
    "a FIFO": ([(member("pipe", tarfile.FIFOTYPE), b"")], "is a FIFO"),
}


@pytest.fixture
def surroundings(tmp_path):
    """A release directory with a file beside it, above it and two levels above."""
    release = tmp_path / "target" / "releases" / "v1"
    release.mkdir(parents=True)
    for place in (tmp_path, tmp_path / "target", tmp_path / "target" / "releases"):
        (place / "flag").write_text("original")
    return release


def outside(tmp_path, release) -> dict[str, bytes]:
    """Every file, link and directory under tmp_path but outside the release."""
    found = {}
    for path in tmp_path.rglob("*"):
        if path == release or release in path.parents:
            continue
        found[str(path)] = path.read_bytes() if path.is_file() and not path.is_symlink() else b""
    return found


@pytest.mark.parametrize("kind", list(CHAINS))
def test_a_symbolic_link_chain_writes_nothing_outside_the_release(tmp_path, surroundings, kind):
    members, message = CHAINS[kind]
    archive = tmp_path / "artifact.tar.gz"
    tarball(archive, *members)
    before = outside(tmp_path, surroundings)

    with pytest.raises(UnsafeArchive, match=re.escape(message)):
        safe_unpack(archive, surroundings, max_bytes=5000)

    assert outside(tmp_path, surroundings) == before


def cve_2025_4517_poc(path, destination) -> None:
    """The published PoC: directories of names long enough that, expanded through the chain
    of links a→d…, b→d…, the path passes PATH_MAX where os.path.realpath stops resolving;
    a link past that point leads out, and a hard link through it overwrites a file outside."""
    steps = "abcdefghijklmnop"
    path_max = os.pathconf(destination.parent, "PC_PATH_MAX")
    component = "d" * ((path_max - len(str(destination)) - 1) // (len(steps) + 1))
    entries = []
    parent = ""
    for step in steps:
        entries.append((member(posixpath.join(parent, component), tarfile.DIRTYPE), b""))
        entries.append((member(posixpath.join(parent, step), tarfile.SYMTYPE, component), b""))
        parent = posixpath.join(parent, component)
    beyond = posixpath.join(*steps, "l" * 254)
    entries += [
        (member(beyond, tarfile.SYMTYPE, posixpath.join(*[".."] * len(steps))), b""),
        (member("escape", tarfile.SYMTYPE, posixpath.join(beyond, "..")), b""),
        (member("flaglink", tarfile.LNKTYPE, "escape/flag"), b""),
        (member("flaglink"), b"overwritten"),
        (member("escape/newfile"), b"new"),
    ]
    tarball(path, *entries)


def test_the_cve_2025_4517_tarball_writes_nothing_anywhere(tmp_path, surroundings):
    archive = tmp_path / "poc.tar.gz"
    cve_2025_4517_poc(archive, surroundings)
    before = outside(tmp_path, surroundings)

    with pytest.raises(UnsafeArchive, match="passes through the symbolic link 'a'"):
        safe_unpack(archive, surroundings, max_bytes=10**6)

    assert outside(tmp_path, surroundings) == before
    assert not list(tmp_path.rglob("newfile"))


def test_the_poc_is_real_on_this_python(tmp_path, surroundings):
    """Tarfile's own filter lets the PoC out on an unpatched Python (3.12.1, 3.13.0 here):
    proof that the test above tries a real attack."""
    archive = tmp_path / "poc.tar.gz"
    cve_2025_4517_poc(archive, surroundings)
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(surroundings, filter="data")
    except tarfile.FilterError:
        pytest.skip(f"Python {sys.version.split()[0]} has the CVE-2025-4517 fix")
    assert (surroundings.parent / "flag").read_text() == "overwritten"


def test_the_real_local_driver_refuses_the_poc_and_leaves_everything_as_it_was(
    pipeline, tmp_path, fast_runner
):
    target = tmp_path / "target"
    releases = target / "releases"
    releases.mkdir(parents=True)
    for place in (tmp_path, target, releases):
        (place / "flag").write_text("original")
    # The driver unpacks into releases/.v1-XXXXXXXX: a name of the same length.
    archive = tmp_path / "poc.tar.gz"
    cve_2025_4517_poc(archive, releases / ".v1-abcdefgh")
    dev = pipeline.environments.get(name="dev")
    dev.driver, dev.driver_settings = "local", {"path": str(target)}
    dev.save()
    build = artifact_build(pipeline, archive.read_bytes())
    before = outside(tmp_path, releases)

    deployment = run_deployment(request_deployment(dev, build, cause="manual").pk)

    assert deployment.status == DeploymentStatus.FAILED
    assert "passes through the symbolic link 'a'" in deployment.error
    assert outside(tmp_path, releases) == before
    assert list(releases.iterdir()) == [releases / "flag"]
    assert not list(tmp_path.rglob("newfile"))


def raw_tar_gz(path, header: tarfile.TarInfo, payload: bytes = b"") -> None:
    """A .tar.gz of one raw header block (any type and size it claims) and `payload`."""
    with gzip.open(path, "wb") as out:
        out.write(header.tobuf(tarfile.USTAR_FORMAT) + payload)


@pytest.mark.parametrize(
    "kind, what", [(tarfile.XHDTYPE, "PAX"), (tarfile.GNUTYPE_LONGNAME, "GNU long-name")]
)
def test_an_oversized_long_header_is_refused_before_it_is_read(tmp_path, kind, what):
    header = member("././@LongHeader", kind)
    header.size = 300 * 1024 * 1024  # what it claims; tarfile would read it all into memory
    archive = tmp_path / "artifact.tar.gz"
    raw_tar_gz(archive, header, b"x" * 4096)
    release = tmp_path / "release"
    release.mkdir()

    with pytest.raises(UnsafeArchive, match=f"a {what} header of 314,572,800 bytes"):
        safe_unpack(archive, release, max_bytes=10**9)


def test_members_are_counted_against_the_limit(tmp_path, monkeypatch):
    monkeypatch.setattr("pipelines.drivers.unpack.MAX_MEMBERS", 3)
    archive = tmp_path / "artifact.tar.gz"
    tarball(archive, *[(member(f"f{n}"), b"x") for n in range(5)])
    release = tmp_path / "release"
    release.mkdir()

    with pytest.raises(UnsafeArchive, match="more than 3 entries"):
        safe_unpack(archive, release, max_bytes=5000)


def test_the_decompressed_stream_is_counted_not_only_file_sizes(tmp_path, monkeypatch):
    """Headers and padding count too: a tarball of empty files cannot stream forever."""
    monkeypatch.setattr("pipelines.drivers.unpack.HEADER_BUDGET", 0)
    monkeypatch.setattr("pipelines.drivers.unpack.MAX_MEMBERS", 10)
    archive = tmp_path / "artifact.tar.gz"
    tarball(archive, *[(member(f"empty{n}"), b"") for n in range(8)])
    release = tmp_path / "release"
    release.mkdir()

    with pytest.raises(UnsafeArchive, match="tar stream is larger than 100 bytes"):
        safe_unpack(archive, release, max_bytes=100)


def test_a_setuid_bit_is_dropped_and_executables_stay_executable(tmp_path):
    run, suid = member("run"), member("suid")
    run.mode, suid.mode = 0o755, 0o4777
    archive = tmp_path / "artifact.tar.gz"
    tarball(archive, (run, b"#!/bin/sh\n"), (suid, b"x"))
    release = tmp_path / "release"
    release.mkdir()

    safe_unpack(archive, release, max_bytes=5000)

    assert (release / "run").stat().st_mode & 0o7777 == 0o755
    assert (release / "suid").stat().st_mode & 0o7777 == 0o755
