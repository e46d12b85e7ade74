"""Deployment log lines as HTML: the one renderer behind the page, the WebSocket frames and
the polls, so that all three produce the same markup (`data-seq` on each line).

A log line is untrusted text. It is escaped first; SGR colour codes then become `ansi*`
classes via ansi2html (never inline styles, which the CSP forbids); any other control
sequence (cursor moves, OSC hyperlinks and titles) is dropped so it cannot garble the page.
Lines are built with plain string formatting rather than a template loop, and many lines at
once as one block (`lines_html`): escaped, stripped and searched for errors in one pass each
rather than once a line, since the page shows thousands of lines (docs/architecture.md,
"Live updates"). `line_html` renders one line alone; both give the same markup.
"""

import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence

from ansi2html import Ansi2HTMLConverter
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from pipelines.logs import error_lines, is_error

_converter = Ansi2HTMLConverter(inline=False, escaped=True, linkify=False)
# Before conversion: OSC strings (hyperlinks, titles), CSI sequences other than SGR (cursor
# moves, erases), which ansi2html would act on or turn into links, and any other ESC: one
# left alone could meet what follows a removed sequence and start a new one.
# An unterminated OSC ends at the line's end (never eats the next line of a block).
_NOT_COLOURS = re.compile(
    r"\x1b\][^\x07\x1b\n]*(?:\x07|\x1b\\)?|\x1b\[[0-?]*[ -/]*[@-ln-~]|\x1b(?!\[[0-?]*[ -/]*m)"
)
# After: any escape left, and control characters other than tab.
_LEFTOVER_CONTROLS = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b.?|[\x00-\x08\x0b-\x1f\x7f]")
# The pattern's last part as a table, for text with no escape: str.translate drops them from
# ASCII text some twenty times faster than the pattern (and from other text slower).
_CONTROL_CHARS = dict.fromkeys([*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F])
_STREAMS = {"stdout", "stderr", "system"}
STEP_START = "▶ "
STEP_ENDS = ("✔ ", "✖ ")


# After _colours_only every escape left starts one of these: a colour, or a sequence
# ansi2html leaves as text for _LEFTOVER_CONTROLS to drop.
_SGR = re.compile(r"(\x1b\[[0-?]*[ -/]*m)")
# The HTML ansi2html puts after each colour of a line, by the line's colours (its state
# depends on nothing else): logs repeat the same few, and its state machine is slow.
_colour_html: dict[tuple[str, ...], list[str]] = {}
_COLOUR_HTML_SIZE = 4096


def ansi_to_html(text: str) -> SafeString:
    """Escaped HTML of one line, its SGR colours as `<span class="ansi31">…</span>`."""
    if "\x1b" not in text:
        return mark_safe(_LEFTOVER_CONTROLS.sub("", escape(text)))
    html = _converter.convert(_colours_only(text), full=False, ensure_trailing_newline=False)
    return mark_safe(_LEFTOVER_CONTROLS.sub("", html))


_ONE_LINE = str.maketrans("\t\n", "  ")


def plain_text(text: str) -> str:
    """What a line shows, as plain text on one line (for an attribute): the escapes and
    control characters its body drops (ansi_to_html), colours too, and tabs and newlines
    as spaces."""
    return _LEFTOVER_CONTROLS.sub("", _colours_only(text)).translate(_ONE_LINE)


def _colours_only(text: str) -> str:
    """Without the escapes _NOT_COLOURS names, removed to a fixed point (a line, or lines
    joined by newlines: no match crosses one)."""
    while (stripped := _NOT_COLOURS.sub("", text)) != text:
        text = stripped
    return text


def _coloured_bodies(texts: list[str]) -> list[str]:
    """`ansi_to_html` of each text (one line each), as ansi2html would make it: the texts
    between colours escaped as ansi2html escapes them (&, <, >: once for all the lines,
    which turns no text into a colour), each colour followed by what ansi2html gives it
    after the colours before it on its line: learnt once per line of such colours, by
    converting those colours alone with a NUL in place of each text."""
    escaped = _colours_only("\n".join(texts))
    escaped = escaped.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    bodies = []
    for line in escaped.split("\n"):
        parts = _SGR.split(line)  # text, colour, text, …, text
        colours = tuple(parts[1::2])
        after = _colour_html.get(colours)
        if after is None:
            if len(_colour_html) >= _COLOUR_HTML_SIZE:
                _colour_html.clear()
            alone = "\x00" + "".join(f"{colour}\x00" for colour in colours)
            html = _converter.convert(alone, full=False, ensure_trailing_newline=False)
            after = _colour_html[colours] = html.split("\x00")[1:]
        parts[1::2] = after[:-1]
        parts.append(after[-1])
        bodies.append("".join(parts))
    return _LEFTOVER_CONTROLS.sub("", "\n".join(bodies)).split("\n")


def _bodies(texts: list[str]) -> list[str]:
    """`ansi_to_html` of each text, in a pass over all of them: the lines without an escape
    joined by newlines and escaped at once, those with colours by `_coloured_bodies`. No
    pattern crosses a newline, and the texts hold none (the caller checks), so splitting
    the result gives each line's own HTML."""
    plain = [i for i, text in enumerate(texts) if "\x1b" not in text]
    if len(plain) == len(texts):
        return _without_controls(escape("\n".join(texts))).split("\n")
    bodies = [""] * len(texts)
    if plain:
        html = _without_controls(escape("\n".join(texts[i] for i in plain)))
        for i, body in zip(plain, html.split("\n"), strict=True):
            bodies[i] = body
    plain_set = set(plain)
    coloured = [i for i in range(len(texts)) if i not in plain_set]
    for i, body in zip(coloured, _coloured_bodies([texts[i] for i in coloured]), strict=True):
        bodies[i] = body
    return bodies


def _without_controls(text: str) -> str:
    """`_LEFTOVER_CONTROLS.sub("", text)` of a text with no escape (ESC) in it."""
    return text.translate(_CONTROL_CHARS) if text.isascii() else _LEFTOVER_CONTROLS.sub("", text)


def step_marker(stream: str, text: str) -> str:
    """The runner's own lines that open and close a step (pipelines/runner/run.py writes
    "▶ name", then "✔ name (0.4 s)" or "✖ why"), as attributes: the page folds the lines
    between them into one section per step (static/js/deployment.js). The name is plain
    text: a command's words can reach a system line, and names come from configuration."""
    if stream != "system":
        return ""
    if text.startswith(STEP_START):
        return f' data-step-start="{escape(plain_text(text.removeprefix(STEP_START)))}"'
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
    return rows_html([(line["seq"], line["stream"], line["text"]) for line in lines], oob=oob)


ROW_FIELDS = ("seq", "stream", "text")


def rows_html(rows: Sequence[Sequence], *, oob: bool = False) -> SafeString:
    """`lines_html` of (seq, stream, text) rows, as `values_list(*ROW_FIELDS)` gives them."""
    if rows:
        seqs, streams, texts = (list(column) for column in zip(*rows, strict=True))
        html = _block_html(seqs, streams, texts)
    else:
        html = ""
    return _appended(html) if oob else mark_safe(html)


def _block_html(seqs: Sequence[int], streams: list[str], texts: list[str]) -> str:
    """`"".join(_line_html(…))` of these lines, each step done once for them all."""
    if not texts or any("\n" in text for text in texts):  # not one line each: one at a time
        return "".join(map(_line_html, seqs, streams, texts))
    streams = [stream if stream in _STREAMS else "stdout" for stream in streams]
    marks = [""] * len(texts)  # each line's attributes after data-seq: most have none
    for i in error_lines(list(zip(streams, texts, strict=True))):
        marks[i] = " data-error"
    if "system" in streams:  # a command's output alone (the usual batch) has none
        for i in [i for i, stream in enumerate(streams) if stream == "system"]:
            marks[i] += step_marker("system", texts[i])
    return "".join(
        [
            f'<div class="line {stream}" data-seq="{seq:d}"{mark}>{body}</div>'
            for seq, stream, mark, body in zip(seqs, streams, marks, _bodies(texts), strict=True)
        ]
    )


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
            _block_html(
                range(first, first + len(lines)),
                [stream for stream, _ in lines],
                [text for _, text in lines],
            )
        ),
    )
