from django.core.management.base import BaseCommand, CommandError

from pipelines.errors import NotFound
from pipelines.tokens import find_token, revoke_token


class Command(BaseCommand):
    help = "Revoke an API token, given its id or prefix as list_tokens shows them."

    def add_arguments(self, parser):
        parser.add_argument("token", help="The token's id or prefix (e.g. slw_AbCdEfGh).")

    def handle(self, *args, token: str, **options):
        try:
            found = find_token(token)
        except NotFound as exc:
            raise CommandError(exc.message) from None
        revoke_token(found)
        self.stdout.write(f"Revoked {found}.")
