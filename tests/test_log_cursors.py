"""A log cursor (`after`, `before`, `limit`) that is not plainly a whole number — other
digits, a sign, too many digits — is read as absent, on the poll and on the socket alike:
never a 500, never a seq the client did not mean."""

import pytest
from asgiref.sync import async_to_sync

from tests.watching import (
    communicator,
    finish,
    receive_until_closed,
    running_deployment,
    seqs_in,
    write_lines,
)

ODD_CURSORS = ["١", "²", "-1", "+1", " 1", "1e3", "9" * 40]


@pytest.mark.django_db
@pytest.mark.parametrize("cursor", ODD_CURSORS)
def test_the_poll_reads_an_odd_cursor_as_from_the_start(pipeline, client_for, cursor):
    deployment = running_deployment(pipeline)
    write_lines(deployment, ["one", "two", "three"])
    client = client_for("developer")

    response = client.get(f"/deployments/{deployment.pk}/log", {"after": cursor, "limit": cursor})
    earlier = client.get(f"/deployments/{deployment.pk}/log", {"before": cursor})

    assert response.status_code == 200
    html = response.content.decode()
    assert all(f'data-seq="{seq}"' in html for seq in (1, 2, 3))
    assert response["X-Last-Seq"] == "3"
    assert earlier.status_code == 200 and "data-seq" not in earlier.content.decode()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("cursor", ["١", "-1", "9" * 40])
def test_the_socket_reads_an_odd_cursor_as_from_the_start(pipeline, users, cursor):
    deployment = running_deployment(pipeline)
    write_lines(deployment, ["one", "two", "three"])
    finish(deployment)

    @async_to_sync
    async def watch():
        client = communicator(f"/ws/deployments/{deployment.pk}/?after={cursor}", users["qa"])
        connected, _ = await client.connect()
        assert connected
        return await receive_until_closed(client)

    frames, code = watch()
    assert seqs_in(frames)[:3] == [1, 2, 3]
    assert code == 1000
