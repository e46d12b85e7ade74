"""Keyset pagination for the long lists (releases, deployments, the audit log).

A page is "the N rows before (or after) this key", found through an index whatever the
history holds: no COUNT(*) and no OFFSET, which grow with it. Links carry the key:
`?<param>_before=<key>` for older rows, `?<param>_after=<key>` for newer ones.
"""

from dataclasses import dataclass, field

from django.db.models import QuerySet
from django.http import HttpRequest

from pipelines.numbers import parse_whole_number


@dataclass
class KeysetPage:
    object_list: list = field(default_factory=list)
    newer: int | None = None  # key for the "← Newer" link, if newer rows exist
    older: int | None = None  # key for the "Older →" link, if older rows exist

    def __iter__(self):
        return iter(self.object_list)

    def __len__(self) -> int:
        return len(self.object_list)

    def __bool__(self) -> bool:
        return bool(self.object_list)


def keyset_page(
    rows: QuerySet, request: HttpRequest, param: str, *, key: str = "pk", size: int
) -> KeysetPage:
    """A page of `rows`, newest (highest `key`) first, in two queries."""
    before = _key(request, f"{param}_before")
    after = _key(request, f"{param}_after") if before is None else None
    if after is not None:  # newer rows: the ones just above `after`, shown newest first
        found = list(rows.filter(**{f"{key}__gt": after}).order_by(key)[: size + 1])
        more_newer, found = len(found) > size, found[:size][::-1]
        older = rows.filter(**{f"{key}__lte": after}).exists() and found
        return KeysetPage(
            found,
            newer=_value(found[0], key) if more_newer else None,
            older=_value(found[-1], key) if older else None,
        )
    page = rows.order_by(f"-{key}")
    if before is not None:
        page = page.filter(**{f"{key}__lt": before})
    found = list(page[: size + 1])
    more_older, found = len(found) > size, found[:size]
    newer = before is not None and found and rows.filter(**{f"{key}__gte": before}).exists()
    return KeysetPage(
        found,
        newer=_value(found[0], key) if newer else None,
        older=_value(found[-1], key) if more_older else None,
    )


def _key(request: HttpRequest, name: str) -> int | None:
    value = request.GET.get(name)
    return None if value is None else parse_whole_number(value)


def _value(row, key: str) -> int:
    return getattr(row, "pk" if key == "pk" else key)
