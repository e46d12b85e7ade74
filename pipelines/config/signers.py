"""The keys of `[[pipeline.notifications]]` that ask the signers (pipelines/signers.py).

- `kind = "slack"`: `mentions = { sales = "<!subteam^S0123ABCD>", qa = "<@U024BE7LH>" }`,
  what the message says to reach each role: Slack's own mention syntax (a user `<@U…>`, a
  user group `<!subteam^S…>`, or `<!here>` / `<!channel>`), one or more, spaces between.
- `kind = "email"`: `signers = true` instead of `to`: each role asked gets an e-mail, to
  its users who have an e-mail address.

Called by checker.py with itself, so the messages name file, line and key as it does.
"""

import re
from typing import Any

from pipelines.config.reader import Reader, Where
from pipelines.roles import Role

# Slack's mention syntax: a user, a user group, or a special mention (docs/signers.md).
SLACK_MENTION_RE = re.compile(
    r"<@[UW][A-Z0-9]{2,20}>|<!subteam\^S[A-Z0-9]{2,20}>|<!here>|<!channel>"
)
MAX_MENTIONS = 20
MAX_MENTION_TEXT = 500


def slack_mentions(checker: Reader, where: Where, table: dict[str, Any]) -> dict[str, Any]:
    """The target's extra keys for `mentions` (none when absent)."""
    if "mentions" not in table:
        return {}
    mentions = table["mentions"]
    if not isinstance(mentions, dict):
        checker.fail(
            where,
            'mentions must be a table of role = "Slack mention", '
            'e.g. mentions = { qa = "<!subteam^S0123ABCD>" }',
            key="mentions",
        )
    roles = [role.value for role in Role]
    checked: dict[str, str] = {}
    for role, text in mentions.items():
        if role not in roles:
            checker.fail(
                where,
                f'mentions: "{role}" is not a role (roles: {", ".join(roles)})',
                key="mentions",
            )
        if not isinstance(text, str) or not text.strip():
            checker.fail(where, f"mentions: {role} must be a non-empty string", key="mentions")
        if len(text) > MAX_MENTION_TEXT:
            checker.fail(
                where,
                f"mentions: {role} is longer than {MAX_MENTION_TEXT} characters",
                key="mentions",
            )
        parts = text.split()
        bad = [part for part in parts if not SLACK_MENTION_RE.fullmatch(part)]
        if bad:
            checker.fail(
                where,
                f'mentions: {role} has "{bad[0][:60]}", which is not a Slack mention '
                '(a user "<@U024BE7LH>", a user group "<!subteam^S0123ABCD>", "<!here>" '
                'or "<!channel>")',
                key="mentions",
            )
        if len(parts) > MAX_MENTIONS:
            checker.fail(
                where, f"mentions: {role} names more than {MAX_MENTIONS} mentions", key="mentions"
            )
        checked[role] = " ".join(parts)
    return {"mentions": checked} if checked else {}


def email_signers(checker: Reader, where: Where, table: dict[str, Any]) -> bool:
    """Whether an e-mail target asks the signers (`signers = true`) rather than writing to
    one address (`to`); the two exclude each other."""
    signers = checker.boolean(where, table, "signers")
    if signers and "to" in table:
        checker.fail(
            where,
            "signers = true writes to each role's users: it takes no to (make a second "
            "[[pipeline.notifications]] for a fixed address)",
            key="to",
        )
    return signers
