from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from pipelines.roles import roles_of
from pipelines.tokens import create_token


class Command(BaseCommand):
    help = "Create an API token for USERNAME and print it once (only its hash is stored)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="What the token is for, e.g. 'ci'.")

    def handle(self, *args, username: str, name: str, **options):
        User = get_user_model()
        try:
            user = User.objects.get(username=username)
        except User.DoesNotExist:
            raise CommandError(f"There is no user named {username!r}.") from None
        token, raw = create_token(user, name=name)
        roles = ", ".join(sorted(roles_of(user))) or "none: the token can do nothing yet"
        self.stderr.write(
            f"Token {token.prefix}… for {user} (roles: {roles}). "
            "Copy it now: it is not shown again."
        )
        self.stdout.write(raw)
