"""Unpacking refuses hostile tarballs before writing anything outside the release."""

import io
import tarfile

import pytest

from pipelines.drivers.unpack import UnsafeArchive, safe_unpack


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


def huge_file() -> tuple[tarfile.TarInfo, bytes]:
    info = member("zeros")
    return info, b"\0" * 4096


HOSTILE = {
    "absolute path": ([(member("/tmp/slipway-pwned"), b"x")], "is an absolute path"),
    "dot-dot": ([(member("app/../../slipway-pwned"), b"x")], "contains `..`"),
    "symlink out": (
        [(member("escape", tarfile.SYMTYPE, "../../outside"), b"")],
        "symbolic link leaving the tree",
    ),
    "hard link out": (
        [(member("escape", tarfile.LNKTYPE, "../outside"), b"")],
        "hard link leaving the tree",
    ),
    "device file": ([(member("disk", tarfile.BLKTYPE), b"")], "is a device file"),
    "oversized expansion": ([huge_file(), huge_file()], "expands to more than 5,000 bytes"),
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
