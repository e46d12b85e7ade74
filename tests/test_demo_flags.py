"""The demo's live environment declares `gift-cards` for QA only, and the sample app reads
it over OFREP from a running Slipway: QA sees gift cards on live, everyone else does not."""

import json
import socket
import subprocess
import sys
import time

import pytest
import requests
from django.conf import settings

from dashboard.demo import DEMO_PIPELINE, ensure_flags_file
from pipelines.config import load_pipeline_file
from pipelines.flag_keys import revoke_flag_key

SAMPLE_APP = settings.BASE_DIR / "examples" / "sampleapp" / "app.py"


@pytest.fixture
def live(slipway_server, tmp_path):
    pipeline = load_pipeline_file(DEMO_PIPELINE)
    env = pipeline.environments.get(name="live")
    env.driver_settings = env.driver_settings | {"path": str(tmp_path / "live")}
    env.save()
    return env


@pytest.fixture
def shop(live, slipway_server, tmp_path):
    """The sample app as live runs it, with the flags.json `make run` writes."""
    flags = ensure_flags_file(live, slipway_server.url)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, str(SAMPLE_APP), "--port", str(port), "--flags", str(flags)]
    app = subprocess.Popen(command, cwd=tmp_path)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            requests.get(url + "/__version__", timeout=1)
            break
        except requests.ConnectionError:
            time.sleep(0.05)
    yield url
    app.terminate()
    app.wait(timeout=10)


def test_the_demo_shows_gift_cards_to_qa_on_live_and_hides_them_from_everyone_else(shop):
    assert 'id="gift-cards"' in requests.get(shop + "/?user=quinn&groups=qa", timeout=10).text
    for visitor in ("", "?user=carl", "?user=sam&groups=sales", "?user=qa&groups=staff"):
        assert 'id="gift-cards"' not in requests.get(shop + "/" + visitor, timeout=10).text


def test_the_flags_file_is_private_and_kept_while_its_key_works(live, slipway_server):
    path = ensure_flags_file(live, slipway_server.url)
    assert path.stat().st_mode & 0o777 == 0o600
    key = json.loads(path.read_text())["key"]
    assert json.loads(ensure_flags_file(live, slipway_server.url).read_text())["key"] == key
    revoke_flag_key(live.flag_keys.get())
    assert json.loads(ensure_flags_file(live, slipway_server.url).read_text())["key"] != key


def test_without_slipway_the_sample_app_hides_the_flagged_feature(shop, live):
    revoke_flag_key(live.flag_keys.get())  # Slipway refuses it: no answer means off
    page = requests.get(shop + "/?user=quinn&groups=qa", timeout=10)
    assert page.status_code == 200 and 'id="gift-cards"' not in page.text
