"""German dates and times as callers say them (integrations.retell.dates)."""

import datetime as dt

import pytest

from integrations.retell.dates import UnclearDate, UnclearTime, parse_date, parse_time

MONDAY = dt.date(2026, 11, 23)  # a Monday
FRIDAY = dt.date(2026, 11, 27)


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("heute", MONDAY),
        ("Heute", MONDAY),
        ("morgen", dt.date(2026, 11, 24)),
        ("Morgen früh", dt.date(2026, 11, 24)),
        ("übermorgen", dt.date(2026, 11, 25)),
        ("uebermorgen", dt.date(2026, 11, 25)),
        ("Übermorgen", dt.date(2026, 11, 25)),
        ("am Freitag", FRIDAY),
        ("Freitag", FRIDAY),
        ("nächsten Dienstag", dt.date(2026, 11, 24)),
        ("naechsten Dienstag", dt.date(2026, 11, 24)),
        ("kommenden Mittwoch", dt.date(2026, 11, 25)),
        ("übernächsten Dienstag", dt.date(2026, 12, 1)),
        ("Montag", dt.date(2026, 11, 30)),  # today is Monday: the next one
        ("am Dienstag morgen", dt.date(2026, 11, 24)),
        ("Sonnabend", dt.date(2026, 11, 28)),
        ("nächste Woche Mittwoch", dt.date(2026, 12, 2)),
        ("nächste Woche", dt.date(2026, 11, 30)),
        ("24.12.", dt.date(2026, 12, 24)),
        ("24.12", dt.date(2026, 12, 24)),
        ("am 24.12.", dt.date(2026, 12, 24)),
        ("3.1.", dt.date(2027, 1, 3)),  # passed this year: next year
        ("24.12.2027", dt.date(2027, 12, 24)),
        ("24.12.27", dt.date(2027, 12, 24)),
        ("24. Dezember", dt.date(2026, 12, 24)),
        ("am 3. März", dt.date(2027, 3, 3)),
        ("3 maerz 2028", dt.date(2028, 3, 3)),
        ("ersten Dezember", dt.date(2026, 12, 1)),
        ("in drei Tagen", dt.date(2026, 11, 26)),
        ("in 2 Wochen", dt.date(2026, 12, 7)),
        ("in einer Woche", dt.date(2026, 11, 30)),
        ("2026-12-01", dt.date(2026, 12, 1)),
        ("2026-12-01T14:30:00+01:00", dt.date(2026, 12, 1)),
        ("29.02.", dt.date(2028, 2, 29)),
    ],
)
def test_dates(said, expected):
    assert parse_date(said, today=MONDAY) == expected


def test_friday_said_on_a_friday_is_next_week():
    assert parse_date("Freitag", today=FRIDAY) == dt.date(2026, 12, 4)


def test_relative_dates_cross_the_year_and_dst():
    assert parse_date("morgen", today=dt.date(2026, 12, 31)) == dt.date(2027, 1, 1)
    # 29 March 2027 is the Monday after the switch to summer time: a date is a date.
    assert parse_date("übermorgen", today=dt.date(2027, 3, 27)) == dt.date(2027, 3, 29)


@pytest.mark.parametrize(
    "said", ["", "   ", "irgendwann", "31.02.", "2026-02-30", "in vielen Tagen"]
)
def test_unclear_dates(said):
    with pytest.raises(UnclearDate):
        parse_date(said, today=MONDAY)


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("14:30", dt.time(14, 30)),
        ("14.30", dt.time(14, 30)),
        ("14:30:00", dt.time(14, 30)),
        ("9:05", dt.time(9, 5)),
        ("14 Uhr", dt.time(14)),
        ("um 14 Uhr", dt.time(14)),
        ("14 Uhr 30", dt.time(14, 30)),
        ("14:30 Uhr", dt.time(14, 30)),
        ("vierzehn Uhr dreißig", dt.time(14, 30)),
        ("zehn Uhr", dt.time(10)),
        ("halb drei", dt.time(14, 30)),
        ("Halb Drei", dt.time(14, 30)),
        ("halb zehn", dt.time(9, 30)),
        ("halb zwölf", dt.time(11, 30)),
        ("halb eins", dt.time(12, 30)),
        ("viertel nach zehn", dt.time(10, 15)),
        ("Viertel vor elf", dt.time(10, 45)),
        ("dreiviertel elf", dt.time(10, 45)),
        ("viertel elf", dt.time(10, 15)),
        ("zehn nach drei", dt.time(15, 10)),
        ("zwanzig vor vier", dt.time(15, 40)),
        ("fünf vor halb drei", dt.time(14, 25)),
        ("fuenf nach halb drei", dt.time(14, 35)),
        ("um 3", dt.time(15)),
        ("drei Uhr nachmittags", dt.time(15)),
        ("7 Uhr morgens", dt.time(7)),
        ("um acht", dt.time(8)),
        ("acht Uhr abends", dt.time(20)),
        ("mittags", dt.time(12)),
        ("2026-12-01T14:30:00+01:00", dt.time(14, 30)),
        ("2026-12-01T09:00", dt.time(9)),
    ],
)
def test_times(said, expected):
    assert parse_time(said) == expected


@pytest.mark.parametrize("said", ["", "bald", "25:00", "14:75", "halb", "siebzig Uhr"])
def test_unclear_times(said):
    with pytest.raises(UnclearTime):
        parse_time(said)
