"""Whole numbers from what people and programs send: strictly, so that no odd input
becomes a 500 or a traceback. Plain Python, no Django: the CLI uses it too."""

import re
from typing import Any

# ASCII digits only (str.isdigit() also takes "²", which int() refuses), and few enough
# for a 64-bit database column (int() itself refuses more than 4,300).
_DIGITS = re.compile(r"[0-9]{1,18}")


def parse_whole_number(text: str) -> int | None:
    """`text` as a non-negative integer, or None when it is not plainly one."""
    return int(text) if _DIGITS.fullmatch(text) else None


def integral(value: Any) -> Any:
    """A JSON number with nothing after the point as an int (12.0 is a whole number in
    JSON and in JSON Schema); any other value as it is."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def signed(value: Any) -> str:
    """A change with its sign always written: "+0.7", "−3" (a true minus), "±0"; "" for None.
    Decimals and floats to two places at most, trailing zeros dropped."""
    if value is None:
        return ""
    if isinstance(value, int):
        text = f"{value:+d}"
    else:
        text = f"{value:+.2f}".rstrip("0").rstrip(".")
    if text in {"+0", "-0"}:
        return "±0"
    return text.replace("-", "−")
