from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from apikeys.services import api_key_create
from fluxbill.core.errors import DomainError


class Command(BaseCommand):
    help = "Create an API key and print it once (for bootstrapping a fresh install)."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--scopes", required=True, help="Comma-separated, e.g. usage.write,usage.read or *")

    def handle(self, *args, name, scopes, **options):
        try:
            key, raw_key = api_key_create(
                name=name, scopes=[s.strip() for s in scopes.split(",") if s.strip()], now=timezone.now()
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(raw_key)
