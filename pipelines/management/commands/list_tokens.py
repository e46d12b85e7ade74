from django.core.management.base import BaseCommand
from django.utils import timezone

from pipelines.models import ApiToken


class Command(BaseCommand):
    help = "List API tokens (all, or those of USERNAME): id, prefix, user, name, last use, expiry."

    def add_arguments(self, parser):
        parser.add_argument("username", nargs="?")
        parser.add_argument("--all", action="store_true", help="Include revoked tokens.")

    def handle(self, *args, username: str | None, all: bool, **options):
        tokens = ApiToken.objects.select_related("user").order_by("user__username", "created_at")
        if username:
            tokens = tokens.filter(user__username=username)
        if not all:
            tokens = tokens.filter(revoked_at__isnull=True)
        rows = [("ID", "PREFIX", "USER", "NAME", "CREATED", "LAST USED", "EXPIRES", "REVOKED")]
        for token in tokens:
            rows.append(
                (
                    str(token.pk),
                    token.prefix,
                    token.user.get_username(),
                    token.name or "-",
                    f"{token.created_at:%Y-%m-%d %H:%M}",
                    f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never",
                    _expiry(token),
                    f"{token.revoked_at:%Y-%m-%d %H:%M}" if token.revoked_at else "-",
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            self.stdout.write("  ".join(cells).rstrip())


def _expiry(token: ApiToken) -> str:
    if token.expires_at is None:
        return "-"
    expired = " (expired)" if token.expires_at <= timezone.now() else ""
    return f"{token.expires_at:%Y-%m-%d %H:%M}{expired}"
