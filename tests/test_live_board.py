"""The board socket sends every card (and promotion panel) re-rendered for its viewer as
htmx out-of-band swaps: on connect, and whenever the board changes."""

import re

import pytest
from asgiref.sync import async_to_sync, sync_to_async

from pipelines.live import publish_board
from tests.watching import TIMEOUT, communicator, finish_async, running_deployment

pytestmark = pytest.mark.django_db(transaction=True)


def card(frame: str, name: str) -> str:
    match = re.search(rf'<article [^>]*id="env-{name}".*?</article>', frame, re.DOTALL)
    assert match, f"no card for {name} in the frame"
    return match.group(0)


def test_the_board_updates_when_a_deployment_finishes(pipeline, users):
    deployment = running_deployment(pipeline, "dev")

    @async_to_sync
    async def watch():
        client = communicator("/ws/pipelines/webshop/", users["developer"])
        connected, _ = await client.connect()
        assert connected
        assert await client.receive_nothing()  # the page was rendered a moment ago
        await finish_async(deployment)  # publish_deployment tells the board
        after = await client.receive_from(TIMEOUT)
        await client.disconnect()
        return after

    after = watch()
    assert f"/deployments/{deployment.pk}/" not in card(after, "dev")
    assert 'hx-swap-oob="true"' in card(after, "dev")


def test_a_reconnected_board_gets_every_card_at_once(pipeline, users):
    deployment = running_deployment(pipeline, "dev")

    @async_to_sync
    async def watch():
        client = communicator("/ws/pipelines/webshop/?resync=1", users["developer"])
        await client.connect()
        frame = await client.receive_from(TIMEOUT)
        await client.disconnect()
        return frame

    assert f"/deployments/{deployment.pk}/" in card(watch(), "dev")


def test_the_board_frame_carries_cards_and_promotion_panels_for_the_viewer(pipeline, users):
    @async_to_sync
    async def watch(name):
        client = communicator("/ws/pipelines/webshop/?resync=1", users[name])
        await client.connect()
        frame = await client.receive_from(TIMEOUT)
        await client.disconnect()
        return frame

    lead, sales = watch("lead"), watch("sales")
    for name in ("dev", "uat", "live"):
        assert f'data-env="{name}"' in lead
    assert 'id="promote-live"' in lead
    assert 'data-action="lock"' in lead  # rendered for a lead …
    assert 'data-action="lock"' not in sales  # … and not for sales


def test_a_burst_of_changes_is_rendered_once_or_twice_not_for_each_change(pipeline, users):
    @async_to_sync
    async def watch():
        client = communicator("/ws/pipelines/webshop/", users["developer"])
        await client.connect()
        for _ in range(20):
            await sync_to_async(publish_board)(pipeline.pk)
        frames = [await client.receive_from(TIMEOUT)]
        while not await client.receive_nothing(timeout=1):
            frames.append(await client.receive_from(TIMEOUT))
        await client.disconnect()
        return frames

    assert 1 <= len(watch()) <= 2
