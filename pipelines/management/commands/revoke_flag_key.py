from django.core.management.base import BaseCommand, CommandError

from pipelines.errors import NotFound
from pipelines.flag_keys import find_flag_key, revoke_flag_key


class Command(BaseCommand):
    help = "Revoke a flag key, given its id or prefix (create_flag_key prints the prefix)."

    def add_arguments(self, parser):
        parser.add_argument("key", help="The key's id or prefix (e.g. slf_AbCdEfGh).")

    def handle(self, *args, key: str, **options):
        try:
            found = find_flag_key(key)
        except NotFound as exc:
            raise CommandError(exc.message) from None
        revoke_flag_key(found)
        self.stdout.write(f"Revoked {found}.")
