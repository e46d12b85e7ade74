"""Checking `[[pipeline.notifications]]`: where the news goes (Slack, webhooks, e-mail; README,
"Describing a pipeline"); the keys that ask the signers are config/signers.py's."""

from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from pipelines.config.reader import Reader, Where, quoted
from pipelines.config.schema import ENV_VAR_RE, NOTIFICATION_KEYS
from pipelines.config.signers import email_signers, slack_mentions


def check_notifications(reader: Reader, tables: Any) -> tuple[dict[str, str], ...]:
    """The checked targets, as `Pipeline.notifications` stores them."""
    tables = reader.tables(
        Where(("pipeline",), "[pipeline]"),
        tables,
        "notifications must be tables written as [[pipeline.notifications]]",
        key="notifications",
    )
    return tuple(_notification(reader, index, table) for index, table in enumerate(tables))


def _notification(reader: Reader, index: int, table: dict[str, Any]) -> dict[str, str]:
    where = Where(("pipeline",), f"[[pipeline.notifications]] #{index + 1}")
    kind = reader.string(where, table, "kind", required=True)
    if kind not in NOTIFICATION_KEYS:
        choices = ", ".join(map(quoted, NOTIFICATION_KEYS))
        reader.fail(where, f'kind "{kind}" is not one of {choices}', key="notifications")
    reader.reject_unknown(where, table, NOTIFICATION_KEYS[kind])
    target = {"kind": kind}
    if kind == "email":
        if email_signers(reader, where, table):
            return {"kind": kind, "signers": True}
        target["to"] = reader.string(where, table, "to", required=True)
        try:
            validate_email(target["to"])
        except ValidationError:
            reader.fail(where, f'to "{target["to"]}" is not an e-mail address', key="to")
        return target
    if not reader.string(where, table, "url", required=True):
        reader.fail(where, "url is required", key="url")
    target["url"] = reader.url(where, table, "url")
    if kind == "slack":
        target |= slack_mentions(reader, where, table)
    secret_env = reader.string(where, table, "secret_env")
    if secret_env:
        if not ENV_VAR_RE.fullmatch(secret_env):
            reader.fail(
                where,
                f'secret_env "{secret_env}" must be the name of an environment variable '
                "(the secret itself does not belong in the file)",
                key="secret_env",
            )
        target["secret_env"] = secret_env
    return target
