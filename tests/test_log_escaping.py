"""A log line is untrusted text: colours render, everything else is escaped."""

import pytest
from asgiref.sync import async_to_sync

from dashboard.log_html import lines_html
from tests.watching import communicator, receive_until_closed, running_deployment, write_lines

EVIL = (
    '\x1b[31mboom\x1b[0m <script>alert("x")</script> <img src=x onerror=alert(1)> & '
    "\x1b]8;;javascript:alert(1)\x07click\x1b]8;;\x07"
)


def test_a_script_in_a_log_line_renders_as_text_on_the_page(pipeline, client_for):
    deployment = running_deployment(pipeline)
    write_lines(deployment, [EVIL])
    page = client_for("developer").get(f"/deployments/{deployment.pk}/").content.decode()
    assert "<script>alert" not in page
    assert "<img src=x" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page or (
        '&lt;script&gt;alert("x")&lt;/script&gt;' in page
    )
    assert '<span class="ansi31">boom</span>' in page
    assert "javascript:" not in page


@pytest.mark.django_db(transaction=True)
def test_a_script_in_a_log_line_renders_as_text_over_the_socket(pipeline, users):
    deployment = running_deployment(pipeline)
    write_lines(deployment, [EVIL])
    deployment.status = "succeeded"
    deployment.save()

    @async_to_sync
    async def watch():
        client = communicator(f"/ws/deployments/{deployment.pk}/", users["developer"])
        await client.connect()
        return await receive_until_closed(client)

    frames, _ = watch()
    assert "<script>" not in frames[0] and "<img" not in frames[0]
    assert "&lt;script&gt;" in frames[0]


def test_control_sequences_other_than_colours_are_dropped():
    html = lines_html([{"seq": 1, "stream": "stdout", "text": "a\x1b[2K\rb\x07\x00c\x1b[1A"}])
    assert html == '<div class="line stdout" data-seq="1">abc</div>'


@pytest.mark.parametrize(
    "text",
    [
        "\x1b\x1b[H]8;;https://evil/\x07click\x1b\x1b[H]8;;\x07",  # ESC, then a removed CSI
        "\x1b\x1b\x1b[H[H]8;;https://evil/\x07click\x1b]8;;\x07",  # nested twice
        "\x1b]8;;https://evil/\x1b\\click\x1b]8;;\x1b\\",  # a plain OSC 8 hyperlink
    ],
)
def test_a_hyperlink_reassembled_from_stripped_sequences_is_no_link(text):
    html = lines_html([{"seq": 1, "stream": "stdout", "text": text}])
    assert "<a" not in html and "href" not in html
    assert "click" in html


def test_colours_survive_the_stripping():
    html = lines_html([{"seq": 1, "stream": "stdout", "text": "\x1b\x1b[31mred\x1b[0m"}])
    assert '<span class="ansi31">red</span>' in html
