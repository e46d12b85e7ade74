"""Checking `[[environments.checklist]]`: the items a promotion to the environment waits for,
each signed by one role, counting for `valid_for` (README, "Describing a pipeline")."""

from typing import Any

from pipelines.config.reader import FirstUse, Reader, Where
from pipelines.config.schema import CHECKLIST_KEYS, ChecklistItemConfig
from pipelines.durations import parse_duration
from pipelines.roles import Role


def check_checklist(
    reader: Reader, env_where: Where, tables: Any
) -> tuple[ChecklistItemConfig, ...]:
    tables = reader.tables(
        env_where,
        tables,
        "checklist items must be tables written as [[environments.checklist]]",
        key="checklist",
    )
    items: list[ChecklistItemConfig] = []
    keys = FirstUse(reader, "checklist", "key")
    for index, table in enumerate(tables):
        item = _item(reader, env_where, index, table)
        where = Where(
            (*env_where.section, "checklist", index),
            f"{env_where.label}: checklist[{index}]",
            env_where.environment,
        )
        keys.note(where, item.key, index)
        items.append(item)
    return tuple(items)


def _item(
    reader: Reader, env_where: Where, index: int, table: dict[str, Any]
) -> ChecklistItemConfig:
    section = (*env_where.section, "checklist", index)
    where = Where(section, f"{env_where.label}: checklist[{index}]", env_where.environment)
    reader.reject_unknown(where, table, CHECKLIST_KEYS)
    key = reader.slug(where, table, "key")
    where = Where(section, f'{env_where.label}: checklist item "{key}"', where.environment)
    label = reader.string(where, table, "label", required=True, max_length=200)
    role = reader.string(where, table, "role", required=True)
    if role not in Role.values:
        reader.fail(where, f'role "{role}" is not one of {", ".join(Role.values)}', key="role")
    valid_for = None
    if "valid_for" in table:
        text = reader.string(where, table, "valid_for")
        valid_for = parse_duration(text)
        if valid_for is None:
            reader.fail(
                where,
                f'valid_for "{text}" is not a duration like "45s", "30m", "2h", "1h30m", "1d"',
                key="valid_for",
            )
    return ChecklistItemConfig(key=key, label=label, role=role, valid_for=valid_for)
