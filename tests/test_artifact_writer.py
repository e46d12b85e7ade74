"""The store's writer: every byte in order, on disk before finish() returns, errors surface."""

import errno
import os
from pathlib import Path

import pytest

from pipelines.artifact_writer import WriteBehindFile


def test_it_writes_every_chunk_in_order_while_flushing_along_the_way(tmp_path):
    chunks = [os.urandom(size) for size in (1, 4096, 70_000, 3, 250_000, 17)]
    path = tmp_path / "artifact"
    with open(path, "wb") as file, WriteBehindFile(file, flush_bytes=5000) as writer:
        for chunk in chunks:
            writer.write(chunk)
        writer.finish()
        assert path.read_bytes() == b"".join(chunks)  # before the file is closed


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_failed_write_is_raised_not_lost():
    with open("/dev/full", "wb") as file, WriteBehindFile(file) as writer:
        with pytest.raises(OSError) as raised:
            for _ in range(3):
                writer.write(b"x" * 1024 * 1024)  # the helper's error comes out here…
            writer.finish()  # …or here at the latest
    assert raised.value.errno == errno.ENOSPC  # "No space left on device", not a later symptom
