"""A freeze window that begins or ends re-renders the open boards: the thaw tick tells the
board's group, and the frame carries the one banner (pipelines/thaw.py, dashboard/live_data.py).
The tick is registered for both modes: Celery beat's schedule and the embedded server's timer."""

import asyncio
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.test import TestCase

from dashboard.live_data import board_frame
from pipelines import deploys, thaw
from pipelines.config import load_pipeline_text
from pipelines.live import pipeline_group
from pipelines.runner import embedded
from pipelines.runner.run import run_deployment
from tests import test_notifications as notifications_tests
from tests.factories import passing_build
from tests.promoting import env
from tests.test_scheduled_freezes import FREEZES, with_freezes

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def frozen_pipeline(pipeline):
    return load_pipeline_text(with_freezes(), source="pipeline.toml")


def test_the_tick_tells_the_board_when_a_window_begins_and_not_in_between(
    frozen_pipeline, settings
):
    settings.SLIPWAY_FREEZE_TICK_SECONDS = 30
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(pipeline_group(frozen_pipeline.pk), channel)

    def told(at: datetime) -> bool:
        # Received inside the travel too: the in-memory layer drops messages a minute old.
        with time_machine.travel(at, tick=False):
            thaw.thaw()
            try:
                message = async_to_sync(_receive_now)(layer, channel)
            except TimeoutError:
                return False
        return message["type"] == "board.changed"

    assert not told(datetime(2026, 11, 20, 15, 0, tzinfo=BERLIN))  # nothing changes
    assert told(datetime(2026, 11, 20, 16, 0, 10, tzinfo=BERLIN))  # the weekend began
    assert not told(datetime(2026, 11, 21, 12, 0, tzinfo=BERLIN))  # still frozen
    assert told(datetime(2026, 11, 23, 8, 0, 20, tzinfo=BERLIN))  # Monday: it ended


async def _receive_now(layer, channel):
    return await asyncio.wait_for(layer.receive(channel), timeout=0.5)


def test_the_board_frame_carries_the_banner(frozen_pipeline, users):
    with time_machine.travel(datetime(2026, 11, 21, 12, 0, tzinfo=BERLIN), tick=False):
        frame = board_frame(frozen_pipeline, users["developer"])
    assert 'id="freeze-banner" hx-swap-oob="true"' in frame
    assert "❄ Frozen until Mon 23 Nov 08:00 Europe/Berlin" in frame


def test_the_tick_runs_in_both_modes():
    assert settings.CELERY_BEAT_SCHEDULE["thaw-frozen"]["task"] == "pipelines.thaw_frozen"
    assert ("SLIPWAY_FREEZE_TICK_SECONDS", thaw.thaw) in embedded._periodic


# A real webhook receiver, and news sent in this process (tests/test_notifications.py).
receiver = notifications_tests.receiver
quick_retries = notifications_tests.quick_retries


def test_a_deployment_the_runner_refuses_is_announced(pipeline, users, receiver, held_deployments):
    hook = f'\n[[pipeline.notifications]]\nkind = "webhook"\nurl = "{receiver.url}/hook"\n'
    frozen = load_pipeline_text(with_freezes(FREEZES + hook), source="pipeline.toml")
    with time_machine.travel(datetime(2026, 11, 20, 15, 59, tzinfo=BERLIN), tick=False) as clock:
        build = passing_build(frozen, "feature")
        with TestCase.captureOnCommitCallbacks(execute=True):
            queued = deploys.deploy_build(env(frozen, "dev"), build, by=users["developer"])
        clock.move_to(datetime(2026, 11, 20, 16, 1, tzinfo=BERLIN))
        with TestCase.captureOnCommitCallbacks(execute=True):
            run_deployment(queued.pk)
    receiver.wait_for(2)
    (news,) = [b for b in receiver.bodies("/hook") if b["event"] == "deployment.failed"]
    assert news["status"] == "cancelled" and news["deployment"] == queued.pk
    assert "Not started: the freeze (Weekend)" in news["text"]
