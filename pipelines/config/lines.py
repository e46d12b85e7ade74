"""Finding lines in a pipeline.toml, best-effort: tomllib does not say where a value came from."""

import re


def split_toml_error(message: str, text: str) -> tuple[str, int | None]:
    """tomllib (before 3.14) puts the place in the message: "... (at line 3, column 5)"."""
    match = re.search(r" \(at line (\d+), column (\d+)\)$", message)
    if match:
        problem = message[: match.start()] + f" (column {match.group(2)})"
        return problem, int(match.group(1))
    if message.endswith(" (at end of document)"):
        return message.removesuffix(" (at end of document)") + " at the end of the file", len(
            text.splitlines()
        ) or None
    return message, None


HEADER_RE = re.compile(r"^\s*(\[\[?)([^\[\]]+)\]")
KEY_RE = re.compile(r"""^\s*["']?([A-Za-z0-9_-]+)["']?\s*[=.]""")


class LineFinder:
    """Remembers, per section of the file, the line where each key first appears."""

    def __init__(self, text: str) -> None:
        self.keys: dict[tuple[tuple, str], int] = {}
        self.headers: dict[tuple, int] = {}
        section: tuple = ()
        env = -1
        counts: dict[str, int] = {}  # [[environments.checklist]] / .flags seen in this one
        freezes = -1  # [[pipeline.freezes]] seen
        for number, line in enumerate(text.splitlines(), start=1):
            header = HEADER_RE.match(line)
            if header:
                parts = [p.strip().strip("\"'") for p in header.group(2).split(".")]
                is_array = header.group(1) == "[["
                if parts == ["environments"]:
                    env, counts = env + (1 if is_array else 0), {}
                    section, parent = ("environments", env), ()
                elif parts in (["environments", "checklist"], ["environments", "flags"]):
                    kind = parts[1]
                    item = counts[kind] = counts.get(kind, -1) + (1 if is_array else 0)
                    section, parent = (
                        ("environments", env, kind, item),
                        ("environments", env),
                    )
                elif parts[0] == "environments":
                    section, parent = ("other",), ("environments", env)
                elif parts == ["pipeline", "freezes"]:
                    freezes += 1 if is_array else 0
                    section, parent = ("pipeline", "freezes", freezes), ("pipeline",)
                elif parts[0] == "pipeline":
                    section = ("pipeline",) if len(parts) == 1 else ("other",)
                    parent = () if len(parts) == 1 else ("pipeline",)
                else:
                    section, parent = ("other",), ()
                self.headers.setdefault(section, number)
                # A sub-table header is where its key appears in the parent section.
                self.keys.setdefault((parent, parts[1] if parent else parts[0]), number)
                continue
            key = KEY_RE.match(line)
            if key:
                self.keys.setdefault((section, key.group(1)), number)

    def find(self, section: tuple, key: str | None) -> int | None:
        if key is not None and (section, key) in self.keys:
            return self.keys[(section, key)]
        return self.headers.get(section)
