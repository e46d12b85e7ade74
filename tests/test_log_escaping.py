"""A log line is untrusted text: colours render, everything else is escaped."""

import random
import re
from html.parser import HTMLParser

import pytest
from asgiref.sync import async_to_sync

from dashboard.log_html import line_html, lines_html
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


def test_a_colour_left_open_on_one_line_does_not_spill_into_the_next():
    """The page renders its lines as one block (dashboard/log_html.py): each line still
    starts with no colour, and an unterminated OSC ends with its line."""
    html = lines_html(
        [
            {"seq": 1, "stream": "stdout", "text": "\x1b[1;31mred, never reset"},
            {"seq": 2, "stream": "stdout", "text": "plain <b>"},
            {"seq": 3, "stream": "stdout", "text": "\x1b]8;;https://evil/\x07click, no end"},
            {"seq": 4, "stream": "stdout", "text": "\x1b[32mgreen"},
        ]
    )
    assert html == (
        '<div class="line stdout" data-seq="1">'
        '<span class="ansi1 ansi31">red, never reset</span></div>'
        '<div class="line stdout" data-seq="2">plain &lt;b&gt;</div>'
        '<div class="line stdout" data-seq="3">click, no end</div>'
        '<div class="line stdout" data-seq="4"><span class="ansi32">green</span></div>'
    )


class _Attributes(HTMLParser):
    attrs = None

    def handle_starttag(self, tag, attrs):
        self.attrs = self.attrs or dict(attrs)


def attributes(html: str) -> dict[str, str | None]:
    """The attributes of the first tag of `html`, as a browser reads them."""
    parser = _Attributes()
    parser.feed(html)
    return parser.attrs


@pytest.mark.parametrize(
    "name, shown",
    [
        ("\x1b[1;31mrelease\x1b[0m", "release"),
        ("re\x00lease\x07\x7f", "release"),
        ("\x1b]8;;https://evil/\x07release\x1b]8;;\x07\x1b[2K\r", "release"),
        ("\x1b\x1b[H]0;title\x07health check", "]0;titlehealth check"),  # no OSC reassembled
        ("two\nlines\tand a tab", "two lines and a tab"),
        ("say \"hi\" 'x' <script>alert(1)</script>", "say \"hi\" 'x' <script>alert(1)</script>"),
    ],
)
def test_a_step_name_shows_as_plain_text_without_escapes_or_control_characters(name, shown):
    """The runner writes "▶ name", and a name may come from configuration or a command's
    own words: its attribute (the section the page folds the step into) is as clean as a
    line's text, in the one-line renderer and the block renderer alike."""
    for html in (
        line_html({"seq": 1, "stream": "system", "text": f"▶ {name}"}),
        lines_html([{"seq": 1, "stream": "system", "text": f"▶ {name}"}]),
    ):
        assert attributes(html)["data-step-start"] == shown
        tag = html[: html.index(">") + 1]
        assert not re.search(r"[\x00-\x1f\x7f]", tag), tag
        assert "<script" not in html


# What hostile output is made of: escapes whole and cut short, markup, quotes, controls,
# error words and what only looks like one, the runner's step lines.
FRAGMENTS = [
    "\x1b[<31m",
    "\x1b[>4m",
    "\x1b[38:5:1m",
    "\x1b[;1m",
    "\x1b[01;32m",
    "\x1b[39;49m",
    "\x1b[7m",
    "\x1b[27m",
    "\x1b[9;53m",
    "\x1b[38;2;255;0m",
    "\x1b[0;m",
    "\x1b[31m",
    "\x1b[0m",
    "\x1b[1;4;38;5;196m",
    "\x1b[38;2;1;2;3m",
    "\x1b[48;5m",
    "\x1b[m",
    "\x1b[",
    "\x1b[31",
    "\x1b",
    "\x1b\x1b",
    "\x1b[2K",
    "\x1b[1A",
    "\x1b[?25l",
    "\x1b[?25m",
    "\x1b[1 m",
    "\x1b(0",
    "\x1b(B",
    "\x1b]8;;https://evil/\x07",
    "\x1b]8;;\x07",
    "\x1b]0;title",
    "\x1b\\",
    "\x07",
    "\x00",
    "\r",
    "\t",
    "\x7f",
    "\x0c",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '"',
    "'",
    "&amp;",
    "&",
    "<",
    ">",
    "javascript:",
    "https://example.com/x?a=1&b=2",
    "ERROR",
    "error",
    "0 failed",
    "no errors",
    "Error",
    "ValueError: x",
    "IOException",
    "Terror",
    "FAİLED",
    "✖ ",
    "▶ ",
    "✔ ",
    "é",
    "漢字",
    " ",
    "x",
]


def random_line(rng):
    text = "".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(0, 8)))
    stream = rng.choice(["stdout", "stdout", "stderr", "system", "bogus"])
    return stream, text


@pytest.mark.parametrize("seed", range(20))
def test_a_block_of_lines_renders_exactly_as_each_line_alone(seed):
    """The page's and the socket's blocks against the one-line renderer, on hostile text."""
    rng = random.Random(seed)
    lines = [
        {"seq": seq, "stream": stream, "text": text}
        for seq, (stream, text) in enumerate((random_line(rng) for _ in range(300)), start=1)
    ]
    if seed % 5 == 4:  # a text of several lines takes the way one at a time
        lines[7]["text"] += "\nsecond\x1b]8;;https://evil/"

    block = lines_html(lines)

    assert block == "".join(line_html(line) for line in lines)
    for markup in ("<script", "<img", "<a ", "href", "style="):
        assert markup not in block
    for control in ("\x1b", "\x00", "\x07", "\r"):  # nor in a step's name (data-step-start)
        assert control not in block


@pytest.mark.parametrize("seed", range(5))
def test_a_block_of_ascii_lines_without_escapes_renders_exactly_as_each_line_alone(seed):
    """The usual batch (a command's plain output) takes a quicker way: checked the same."""
    plain_ascii = [fragment for fragment in FRAGMENTS if "\x1b" not in fragment]
    plain_ascii = [f for f in plain_ascii if f.isascii()] + ["\x00", "\x07", "\r", "\x7f", "\t"]
    rng = random.Random(seed)
    lines = [
        {
            "seq": seq,
            "stream": rng.choice(["stdout", "stderr", "system"]),
            "text": "".join(rng.choice(plain_ascii) for _ in range(rng.randint(0, 8))),
        }
        for seq in range(1, 301)
    ]

    block = lines_html(lines)

    assert block == "".join(line_html(line) for line in lines)
    for control in ("\x00", "\x07", "\r", "\x7f"):
        assert control not in block
