"""The geometry of a shields-style badge: two boxes sized to their text (Verdana 11 px)."""

from dataclasses import dataclass

PADDING = 10  # px around each text
# Approximate advance widths of Verdana at 11 px; the SVG's textLength makes the text fit
# its box exactly whatever font the reader's browser really uses.
NARROW, WIDE, DEFAULT = 3.7, 9.5, 6.9
NARROW_CHARS = set("iIjlt.,:;|!'()[]{} ·f/")
WIDE_CHARS = set("mwMW@%")


@dataclass(frozen=True)
class BadgeShape:
    label: str
    message: str
    label_width: int
    message_width: int

    @property
    def width(self) -> int:
        return self.label_width + self.message_width

    @property
    def label_text_width(self) -> int:
        return self.label_width - PADDING

    @property
    def message_text_width(self) -> int:
        return self.message_width - PADDING

    @property
    def label_middle(self) -> float:
        return self.label_width / 2

    @property
    def message_middle(self) -> float:
        return self.label_width + self.message_width / 2


def text_width(text: str) -> int:
    total = 0.0
    for char in text:
        if char in NARROW_CHARS:
            total += NARROW
        elif char in WIDE_CHARS or char.isupper():
            total += WIDE if char in WIDE_CHARS else 7.6
        else:
            total += DEFAULT
    return round(total)


def badge_shape(label: str, message: str) -> BadgeShape:
    return BadgeShape(
        label=label,
        message=message,
        label_width=text_width(label) + PADDING,
        message_width=text_width(message) + PADDING,
    )
