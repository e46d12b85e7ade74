"""Deployment log lines as HTML: the one renderer behind the page, the WebSocket frames and
the polls, so that all three produce the same markup (`data-seq` on each line).

A log line is untrusted text. It is escaped first; SGR colour codes then become `ansi*`
classes via ansi2html (never inline styles, which the CSP forbids); any other control
sequence (cursor moves, OSC hyperlinks and titles) is dropped so it cannot garble the page.
Lines are built with plain string formatting rather than a template loop: a busy log is
rendered at tens of thousands of lines a second.
"""

import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence

from ansi2html import Ansi2HTMLConverter
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from pipelines.logs import is_error

_converter = Ansi2HTMLConverter(inline=False, escaped=True, linkify=False)
# Before conversion: OSC strings (hyperlinks, titles), CSI sequences other than SGR (cursor
# moves, erases), which ansi2html would act on or turn into links, and any other ESC: one
# left alone could meet what follows a removed sequence and start a new one.
_NOT_COLOURS = re.compile(
    r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b\[[0-?]*[ -/]*[@-ln-~]|\x1b(?!\[[0-?]*[ -/]*m)"
)
# After: any escape left, and control characters other than tab.
_LEFTOVER_CONTROLS = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b.?|[\x00-\x08\x0b-\x1f\x7f]")
_STREAMS = {"stdout", "stderr", "system"}
STEP_START = "▶ "
STEP_ENDS = ("✔ ", "✖ ")


def ansi_to_html(text: str) -> SafeString:
    """Escaped HTML of one line, its SGR colours as `<span class="ansi31">…</span>`."""
    if "\x1b" not in text:
        return mark_safe(_LEFTOVER_CONTROLS.sub("", escape(text)))
    while (stripped := _NOT_COLOURS.sub("", text)) != text:  # to a fixed point
        text = stripped
    html = _converter.convert(text, full=False, ensure_trailing_newline=False)
    return mark_safe(_LEFTOVER_CONTROLS.sub("", html))


def step_marker(stream: str, text: str) -> str:
    """The runner's own lines that open and close a step (pipelines/runner/run.py writes
    "▶ name", then "✔ name (0.4 s)" or "✖ why"), as attributes: the page folds the lines
    between them into one section per step (static/js/deployment.js)."""
    if stream != "system":
        return ""
    if text.startswith(STEP_START):
        return f' data-step-start="{escape(text.removeprefix(STEP_START))}"'
    if text.startswith(STEP_ENDS):
        return " data-step-end"
    return ""


def line_html(line: Mapping) -> str:
    """One line ({"seq", "stream", "text"}) as `<div class="line …" data-seq="n">…</div>`."""
    return _line_html(line["seq"], line["stream"], line["text"])


def _line_html(seq: int, stream: str, text: str) -> str:
    stream = stream if stream in _STREAMS else "stdout"
    error = " data-error" if is_error(stream, text) else ""
    step = step_marker(stream, text)
    return (
        f'<div class="line {stream}" data-seq="{int(seq)}"{error}{step}>{ansi_to_html(text)}</div>'
    )


def lines_html(lines: Iterable[Mapping], *, oob: bool = False) -> SafeString:
    """Lines in seq order; with `oob`, wrapped for htmx to append them to `#log`."""
    html = "".join(line_html(line) for line in lines)
    return _appended(html) if oob else mark_safe(html)


def _appended(html: str) -> SafeString:
    return mark_safe(f'<div hx-swap-oob="beforeend:#log">{html}</div>')


class _FrameCache:
    """Every watcher of a deployment in one process is sent the same frames: render once."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self.frames: OrderedDict[tuple, str] = OrderedDict()

    def get_or_render(self, key: tuple, render: Callable[[], str]) -> str:
        frame = self.frames.get(key)
        if frame is None:
            frame = self.frames[key] = render()
            if len(self.frames) > self.size:
                self.frames.popitem(last=False)
        return frame


_frames = _FrameCache()


def live_frame(deployment_id: int, lines: list[Mapping]) -> str:
    """The WebSocket frame of consecutive stored lines (stored lines never change: cache by
    range; the last text only guards against a reused deployment id in a test database)."""
    key = (deployment_id, lines[0]["seq"], lines[-1]["seq"], lines[-1]["text"])
    return _frames.get_or_render(key, lambda: lines_html(lines, oob=True))


def live_batch_frame(deployment_id: int, first: int, lines: Sequence[Sequence[str]]) -> str:
    """`live_frame` of a live message's batch: [stream, text] pairs with seqs from `first`."""
    key = (deployment_id, first, first + len(lines) - 1, lines[-1][1])
    return _frames.get_or_render(
        key,
        lambda: _appended(
            "".join(_line_html(first + i, stream, text) for i, (stream, text) in enumerate(lines))
        ),
    )
