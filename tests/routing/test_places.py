"""Places as callers name them, resolved offline from the data the pinned packages ship."""

from __future__ import annotations

import pytest

from routing import postal_build
from routing.geo import Point, haversine_km
from routing.places import PlaceAmbiguous, place_find

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


INNSBRUCK = Point(47.263, 11.394)
ZUERICH = Point(47.377, 8.541)
GRAZ = Point(47.071, 15.439)
BERN = Point(46.948, 7.447)


@pytest.mark.parametrize(
    ("said", "country", "town", "code_country", "near"),
    [
        # The country said decides, whatever the dialled branch's country.
        ("6020 in Österreich", "DE", "Innsbruck", "AT", INNSBRUCK),
        ("Postleitzahl 6020, Österreich", "CH", "Innsbruck", "AT", INNSBRUCK),
        ("A-6020", "DE", "Innsbruck", "AT", INNSBRUCK),
        ("8001 in der Schweiz", "AT", "Zürich", "CH", ZUERICH),
        ("CH-8001", "DE", "Zürich", "CH", ZUERICH),
        # A code only one of the two has.
        ("8010", "DE", "Graz", "AT", GRAZ),
        ("Ich wohne in 1100 Wien", "DE", "Wien", "AT", Point(48.208, 16.373)),
        # A code both have: the dialled branch's country.
        ("6020", "AT", "Innsbruck", "AT", INNSBRUCK),
        ("3012", "CH", "Bern", "CH", BERN),
    ],
)
def test_austrian_and_swiss_postal_codes(said, country, town, code_country, near):
    found = place_find(said, country=country)
    assert found is not None and (found.name, found.kind) == (town, "postal_code")
    assert found.country == code_country
    assert haversine_km(found.point, near) < 15


def test_a_code_both_countries_have_gets_a_question_in_german():
    with pytest.raises(PlaceAmbiguous) as caught:
        place_find("6020", country="DE")
    assert [place.country for place in caught.value.candidates] == ["AT", "CH"]
    assert caught.value.question == (
        "Meinen Sie mit der Postleitzahl 6020 Innsbruck in Österreich oder Emmenbrücke in der "
        "Schweiz?"
    )


def test_a_swiss_code_not_in_the_data_falls_back_to_its_area():
    # 8000 is Zürich's post office box code, no locality: the centre of the 800x codes.
    found = place_find("8000 Schweiz", country="DE")
    assert found is not None and found.country == "CH"
    assert haversine_km(found.point, ZUERICH) < 5


def test_a_five_digit_code_stays_german_at_an_austrian_branch():
    found = place_find("14467", country="AT")
    assert found is not None and found.country == "DE"
    assert haversine_km(found.point, BERLIN_MITTE) < 30


@pytest.mark.parametrize("said", ["0000", "9999 in der Schweiz"])
def test_unknown_austrian_and_swiss_codes(said):
    assert place_find(said, country="AT") is None


KITZBUEHEL = Point(47.4464, 12.3922)


@pytest.mark.parametrize(
    ("said", "country", "town", "town_country", "near"),
    [
        ("Ich bin in Zell am See", "DE", "Zell am See", "AT", Point(47.3238, 12.7965)),
        ("in Hallstatt", "DE", "Hallstatt", "AT", Point(47.5622, 13.6493)),
        ("Grindelwald", "DE", "Grindelwald", "CH", Point(46.6242, 8.0414)),
        ("Appenzell", "AT", "Appenzell", "CH", Point(47.3310, 9.4090)),
        ("Kitzbühel", "DE", "Kitzbühel", "AT", KITZBUEHEL),
        ("kitzbuehel", "CH", "Kitzbühel", "AT", KITZBUEHEL),
        ("Ich wohne in der Nähe von Kitzbühel", "DE", "Kitzbühel", "AT", KITZBUEHEL),
        ("Hallstatt in Österreich", "DE", "Hallstatt", "AT", Point(47.5622, 13.6493)),
        ("Seestraße 12, Zell am See", "DE", "Zell am See", "AT", Point(47.3238, 12.7965)),
        # "St." and "Sankt" are one word to the caller.
        ("Sankt Moritz", "DE", "St. Moritz", "CH", Point(46.4983, 9.8389)),
        ("St. Johann in Tirol", "DE", "Sankt Johann in Tirol", "AT", Point(47.5230, 12.4240)),
        # German towns under 15,000 inhabitants, too.
        ("Oberstdorf", "DE", "Oberstdorf", "DE", Point(47.4099, 10.2797)),
        ("Ich bin in Zeuthen", "AT", "Zeuthen", "DE", Point(52.3480, 13.6270)),
        # The longest name wins over a bigger Neustadt named inside it.
        ("Neustadt an der Aisch", "DE", "Neustadt an der Aisch", "DE", Point(49.5797, 10.6113)),
    ],
)
def test_towns_under_fifteen_thousand(said, country, town, town_country, near):
    found = place_find(said, country=country)
    assert found is not None and (found.name, found.kind) == (town, "place")
    assert found.country == town_country
    assert haversine_km(found.point, near) < 3


@pytest.mark.parametrize(
    "said",
    [
        # Villages named like words are not found inside a sentence.
        "Ich bin am See",
        "Ich bin im Wald",
        "ganz in der Nähe",
        # The country said has no town of that name.
        "Hallstatt in der Schweiz",
    ],
)
def test_words_that_are_village_names_find_nothing(said):
    assert place_find(said) is None


def test_a_big_place_wins_over_a_small_town_of_its_name():
    found = place_find("Ich bin in Potsdam")
    assert found is not None and (found.name, found.country) == ("Potsdam", "DE")


@pytest.mark.parametrize(
    ("said", "country", "town_country", "near"),
    [
        # Stans is in Tyrol and in Nidwalden: the country said decides, then the branch's.
        ("Stans in der Schweiz", "AT", "CH", Point(46.958, 8.366)),
        ("Stans, Österreich", "CH", "AT", Point(47.367, 11.717)),
        ("Stans", "AT", "AT", Point(47.367, 11.717)),
        ("Stans", "CH", "CH", Point(46.958, 8.366)),
    ],
)
def test_a_town_name_of_two_countries(said, country, town_country, near):
    found = place_find(said, country=country)
    assert found is not None and (found.name, found.country) == ("Stans", town_country)
    assert haversine_km(found.point, near) < 1


def test_a_town_name_of_two_countries_gets_a_question_in_german():
    with pytest.raises(PlaceAmbiguous) as caught:
        place_find("Ich bin in Stans", country="DE")
    assert caught.value.countries == ["AT", "CH"]
    assert caught.value.question == "Meinen Sie Stans in Österreich oder Stans in der Schweiz?"


def test_a_town_name_found_twice_in_one_country_asks_for_the_postal_code():
    with pytest.raises(PlaceAmbiguous) as caught:
        place_find("Wald", country="DE")
    assert caught.value.countries == ["DE"]
    assert len(caught.value.candidates) == 4
    assert caught.value.question == ("Den Ort Wald gibt es mehrmals. Wie lautet Ihre Postleitzahl?")


def test_the_shipped_files_are_what_the_pinned_packages_give():
    """routing/data/postal_codes_at_ch.json and towns_de_at_ch.json are derived, not edited:
    built again, they are the same (after a version bump: manage.py build_postal_codes)."""
    files = postal_build.build().files()
    assert set(files) == {postal_build.OUTPUT, postal_build.TOWNS_OUTPUT}
    for path, text in files.items():
        assert text == path.read_text("utf-8"), path.name
