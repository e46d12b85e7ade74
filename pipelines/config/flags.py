"""Checking `[[environments.flags]]`: an environment's feature flags, their rules checked by
the same function the Feature flags page uses (pipelines/flags.py; docs/feature-flags.md)."""

from typing import Any

from pipelines.config.reader import FirstUse, Reader, Where
from pipelines.config.schema import FLAG_KEYS, FlagConfig
from pipelines.errors import InvalidInput
from pipelines.flags import MAX_FLAGS, checked_rules, rules_problem


def check_flags(reader: Reader, env_where: Where, tables: Any) -> tuple[FlagConfig, ...]:
    tables = reader.tables(
        env_where, tables, "flags must be tables written as [[environments.flags]]", key="flags"
    )
    if len(tables) > MAX_FLAGS:
        reader.fail(env_where, f"declares more than {MAX_FLAGS} flags", key="flags")
    flags: list[FlagConfig] = []
    keys = FirstUse(reader, "flags", "key")
    for index, table in enumerate(tables):
        section = (*env_where.section, "flags", index)
        where = Where(section, f"{env_where.label}: flags[{index}]", env_where.environment)
        reader.reject_unknown(where, table, FLAG_KEYS)
        key = reader.string(where, table, "key", required=True)
        if problem := rules_problem("key", key):
            reader.fail(where, f'key "{key}" {problem}', key="key")
        keys.note(where, key, index)
        where = Where(section, f'{env_where.label}: flag "{key}"', env_where.environment)
        values = {field: table[field] for field in FLAG_KEYS[1:] if field in table}
        try:
            rules = checked_rules(**values)
        except InvalidInput as exc:
            reader.fail(where, exc.message.rstrip("."), key=exc.details["field"])
        flags.append(FlagConfig(key=key, rules=rules))
    return tuple(flags)
