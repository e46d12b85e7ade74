"""The demo's sample app passes its own tests, and its artifact is reproducible."""

import subprocess
import sys
import tarfile
from io import BytesIO

from django.conf import settings

from dashboard.demo import sampleapp_artifact


def test_the_sample_app_passes_its_own_tests():
    result = subprocess.run(
        [sys.executable, "-m", "unittest", "-q", "test_app"],
        cwd=settings.BASE_DIR / "examples" / "sampleapp",
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert result.returncode == 0, result.stderr


def test_the_same_commit_packs_into_the_same_bytes():
    first = sampleapp_artifact("abc1234", "A change")
    assert sampleapp_artifact("abc1234", "A change") == first
    with tarfile.open(fileobj=BytesIO(first)) as tar:
        assert sorted(tar.getnames()) == ["REVISION", "app.py", "control.py", "db.py"]
        assert tar.extractfile("REVISION").read() == b"abc1234\nA change\n"
