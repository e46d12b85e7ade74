from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from pipelines.durations import parse_duration
from pipelines.roles import roles_of
from pipelines.tokens import create_token


class Command(BaseCommand):
    help = "Create an API token for USERNAME and print it once (only its hash is stored)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="What the token is for, e.g. 'ci'.")
        parser.add_argument(
            "--expires",
            metavar="DURATION",
            help="How long the token is valid: 90d, 12h, 1d12h (default: until revoked).",
        )

    def handle(self, *args, username: str, name: str, expires: str | None, **options):
        expires_in = None
        if expires is not None:
            expires_in = parse_duration(expires)
            if expires_in is None:
                raise CommandError(
                    f"--expires {expires!r} is not a duration like 90d, 12h or 1d12h."
                )
        User = get_user_model()
        try:
            user = User.objects.get(username=username)
        except User.DoesNotExist:
            raise CommandError(f"There is no user named {username!r}.") from None
        token, raw = create_token(user, name=name, expires_in=expires_in)
        roles = ", ".join(sorted(roles_of(user))) or "none: the token can do nothing yet"
        until = f"expires {token.expires_at:%Y-%m-%d %H:%M}" if token.expires_at else "no expiry"
        self.stderr.write(
            f"Token {token.prefix}… for {user} (roles: {roles}; {until}). "
            "Copy it now: it is not shown again."
        )
        self.stdout.write(raw)
