"""Reading single values of a pipeline.toml, and failing so that the message names the file,
its line, the environment and the key.

Every part of the checker (checker.py and the modules it calls, one per part of the file)
reads through a `Reader`; none imports checker.py, so the package has no cycle.
"""

from dataclasses import dataclass
from typing import Any, NoReturn

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from pipelines.config.lines import LineFinder
from pipelines.config.schema import SLUG_RE, TOML_TYPE_NAMES
from pipelines.errors import ConfigError


@dataclass(frozen=True)
class Where:
    """A place in the file: its section (to find the line) and how to name it in messages."""

    section: tuple = ()
    label: str = ""
    environment: str | None = None


class Reader:
    """Single values of the file's tables, checked; ConfigError on the first problem."""

    def __init__(self, text: str, source: str) -> None:
        self.text = text
        self.source = source
        self.lines = LineFinder(text)

    def fail(self, where: Where, problem: str, *, key: str | None = None) -> NoReturn:
        line = self.lines.find(where.section, key)
        place = f"{self.source}, line {line}" if line else self.source
        prefix = f"{where.label}: " if where.label else ""
        raise ConfigError(
            f"{place}: {prefix}{problem}",
            source=self.source,
            line=line,
            environment=where.environment,
            field=key,
        )

    def reject_unknown(
        self, where: Where, table: dict[str, Any], allowed: tuple, what: str = "key"
    ) -> None:
        unknown = [key for key in table if key not in allowed]
        if unknown:
            plural = "s" if len(unknown) > 1 else ""
            self.fail(
                where,
                f"unknown {what}{plural} {', '.join(map(quoted, unknown))} "
                f"(allowed: {', '.join(allowed)})",
                key=unknown[0],
            )

    def typed(self, where: Where, table: dict[str, Any], key: str, types: tuple) -> Any:
        value = table[key]
        # bool is an int in Python, never a number in TOML.
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            wanted = " or ".join(TOML_TYPE_NAMES[t] for t in types)
            self.fail(where, f"{key} must be {wanted}, not {type_name(value)}", key=key)
        return value

    def string(
        self,
        where: Where,
        table: dict[str, Any],
        key: str,
        *,
        required: bool = False,
        max_length: int | None = None,
    ) -> str:
        if key not in table:
            if required:
                self.fail(where, f"{key} is required", key=key)
            return ""
        value = self.typed(where, table, key, (str,))
        if required and not value.strip():
            self.fail(where, f"{key} must not be empty", key=key)
        if max_length and len(value) > max_length:
            self.fail(where, f"{key} is longer than {max_length} characters", key=key)
        return value

    def boolean(self, where: Where, table: dict[str, Any], key: str) -> bool:
        return self.typed(where, table, key, (bool,)) if key in table else False

    def slug(self, where: Where, table: dict[str, Any], key: str) -> str:
        value = self.string(where, table, key, required=True, max_length=64)
        if not SLUG_RE.fullmatch(value):
            self.fail(where, f'{key} "{value}" may hold only letters, digits, "-" and "_"', key=key)
        return value

    def url(self, where: Where, table: dict[str, Any], key: str) -> str:
        value = self.string(where, table, key)
        if value:
            try:  # a template's {branch} and {port} are filled in later (config/branches.py)
                URLValidator()(value.replace("{branch}", "branch").replace("{port}", "1"))
            except ValidationError:
                self.fail(where, f'{key} "{value}" is not a URL', key=key)
        return value

    def tables(self, where: Where, tables: Any, problem: str, *, key: str) -> list[dict]:
        """`tables` if it is an array of tables (`[[…]]`), else fail with `problem`."""
        if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
            self.fail(where, problem, key=key)
        return tables


class FirstUse:
    """Where each value of a key (an environment's name, a checklist item's key) was first
    used in an array of tables: a second use fails, naming the first."""

    def __init__(self, reader: Reader, array: str, key: str) -> None:
        self.reader, self.array, self.key = reader, array, key
        self.first: dict[str, int] = {}

    def note(self, where: Where, value: str, index: int) -> None:
        if value in self.first:
            self.reader.fail(
                where,
                f'{self.key} "{value}" is already used by {self.array}[{self.first[value]}]',
                key=self.key,
            )
        self.first[value] = index


def quoted(text: str) -> str:
    return f'"{text}"'


def type_name(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return TOML_TYPE_NAMES.get(type(value), f"a {type(value).__name__}")
