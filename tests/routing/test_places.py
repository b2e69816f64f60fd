"""Places as callers name them, resolved offline from the data the pinned packages ship."""

from __future__ import annotations

import pytest

from routing.geo import Point, haversine_km
from routing.places import place_find

BERLIN_MITTE = Point(52.520008, 13.404954)
HAMBURG_ALTONA = Point(53.550341, 9.935170)


@pytest.mark.parametrize(
    ("said", "name", "near", "within_km"),
    [
        ("Ich bin in Potsdam", "Potsdam", BERLIN_MITTE, 30),
        ("potsdam", "Potsdam", BERLIN_MITTE, 30),
        ("Teltow", "Teltow", BERLIN_MITTE, 20),
        ("Berlin-Kreuzberg", "Kreuzberg", BERLIN_MITTE, 4),
        ("Ich wohne in Altona", "Altona", HAMBURG_ALTONA, 3),
        ("Pinneberg", "Pinneberg", HAMBURG_ALTONA, 25),
        ("München", "Munich", Point(48.137, 11.575), 2),
        ("Muenchen", "Munich", Point(48.137, 11.575), 2),
        ("Frankfurt am Main", "Frankfurt am Main", Point(50.110, 8.682), 3),
        ("Wien", "Vienna", Point(48.208, 16.373), 2),
        ("Favoriten", "Favoriten", Point(48.208, 16.373), 8),
        ("Zürich", "Zürich", Point(47.377, 8.541), 3),
    ],
)
def test_places_and_districts(said, name, near, within_km):
    found = place_find(said)
    assert found is not None and (found.name, found.kind) == (name, "place")
    assert haversine_km(found.point, near) < within_km


@pytest.mark.parametrize(
    ("said", "near", "within_km"),
    [
        ("14467", BERLIN_MITTE, 30),  # Potsdam
        ("PLZ 10999", BERLIN_MITTE, 5),  # Kreuzberg
        ("22880", HAMBURG_ALTONA, 20),  # Wedel
        ("80331", Point(48.137, 11.575), 3),  # Munich
    ],
)
def test_postal_codes(said, near, within_km):
    found = place_find(said)
    assert found is not None and found.kind == "postal_code"
    assert haversine_km(found.point, near) < within_km


def test_a_postal_code_not_in_the_data_falls_back_to_its_area():
    # 10875 is a company's own code (no area): the centre of the 1087x codes, in Berlin.
    found = place_find("10875")
    assert found is not None and haversine_km(found.point, BERLIN_MITTE) < 10


@pytest.mark.parametrize("said", ["", "Entenhausen", "irgendwo hier", "00000"])
def test_unknown_places(said):
    assert place_find(said) is None
