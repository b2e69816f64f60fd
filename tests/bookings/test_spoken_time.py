"""German dates and times as callers say them (bookings.spoken_time)."""

import datetime as dt

import pytest

from bookings.spoken_time import (
    AmbiguousDate,
    SpokenTime,
    UnclearDate,
    UnclearTime,
    parse_date,
    parse_spoken_time,
    parse_time,
)

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


# ----------------------------------------------------------- ordinal days, as people say them

ORDINAL_WORDS = [
    "ersten", "zweiten", "dritten", "vierten", "fünften", "sechsten", "siebten", "achten",
    "neunten", "zehnten", "elften", "zwölften", "dreizehnten", "vierzehnten", "fünfzehnten",
    "sechzehnten", "siebzehnten", "achtzehnten", "neunzehnten", "zwanzigsten",
    "einundzwanzigsten", "zweiundzwanzigsten", "dreiundzwanzigsten", "vierundzwanzigsten",
    "fünfundzwanzigsten", "sechsundzwanzigsten", "siebenundzwanzigsten", "achtundzwanzigsten",
    "neunundzwanzigsten", "dreißigsten", "einunddreißigsten",
]  # fmt: skip


@pytest.mark.parametrize(("day", "word"), list(enumerate(ORDINAL_WORDS, start=1)))
def test_every_ordinal_day_in_words_with_a_month(day, word):
    # January has all 31; said in November, it is next year's.
    assert parse_date(f"am {word} Januar", today=MONDAY) == dt.date(2027, 1, day)


@pytest.mark.parametrize(("day", "word"), list(enumerate(ORDINAL_WORDS, start=1)))
def test_every_ordinal_day_in_words_without_a_month(day, word):
    # Today is 23 November: from the 23rd on still this month, before it next month's
    # (December has 31 days, so every day exists there).
    month = dt.date(2026, 11, day) if 23 <= day <= 30 else dt.date(2026, 12, day)
    assert parse_date(f"am {word}", today=MONDAY) == month


@pytest.mark.parametrize("day", range(1, 32))
def test_every_ordinal_day_in_digits(day):
    expected = dt.date(2026, 11, day) if 23 <= day <= 30 else dt.date(2026, 12, day)
    assert parse_date(f"am {day}.", today=MONDAY) == expected
    assert parse_date(f"den {day}. Dezember", today=MONDAY) == dt.date(2026, 12, day)


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("am fünfzehnten Januar", dt.date(2027, 1, 15)),
        ("am zwanzigsten Dezember", dt.date(2026, 12, 20)),
        ("am einunddreißigsten", dt.date(2026, 12, 31)),
        ("Am Einunddreissigsten Dezember", dt.date(2026, 12, 31)),
        ("am 3.", dt.date(2026, 12, 3)),
        ("den dritten", dt.date(2026, 12, 3)),
        ("am siebenten Februar", dt.date(2027, 2, 7)),
        ("am zwanzigsten zwölften", dt.date(2026, 12, 20)),
        ("am fünfzehnten Januar 2028", dt.date(2028, 1, 15)),
        ("Freitag, den vierten Dezember", dt.date(2026, 12, 4)),
        ("Freitag, den 4.12.", dt.date(2026, 12, 4)),
        ("Sonntag, den dreizehnten", dt.date(2026, 12, 13)),
        ("Ende nächster Woche", dt.date(2026, 12, 4)),
        ("ende der woche", dt.date(2026, 11, 27)),
        ("Anfang nächster Woche", dt.date(2026, 11, 30)),
        ("Mitte kommender Woche", dt.date(2026, 12, 2)),
        ("am Wochenende", dt.date(2026, 11, 28)),
        ("dieses Wochenende", dt.date(2026, 11, 28)),
        ("übernächstes Wochenende", dt.date(2026, 12, 5)),
        ("in vierzehn Tagen", dt.date(2026, 12, 7)),
        ("in zwei Wochen", dt.date(2026, 12, 7)),
        ("übermorgen Nachmittag", dt.date(2026, 11, 25)),
        # Austria: Jänner, Feber, heuer
        ("am dritten Jänner", dt.date(2027, 1, 3)),
        ("am 10. Feber", dt.date(2027, 2, 10)),
        ("am zwölften Dezember heuer", dt.date(2026, 12, 12)),
        # Switzerland: morn, übermorn
        ("morn", dt.date(2026, 11, 24)),
        ("übermorn", dt.date(2026, 11, 25)),
    ],
)
def test_spoken_dates(said, expected):
    assert parse_date(said, today=MONDAY) == expected


def test_weekend_on_the_weekend():
    saturday, sunday = dt.date(2026, 11, 28), dt.date(2026, 11, 29)
    assert parse_date("am Wochenende", today=saturday) == saturday
    assert parse_date("am Wochenende", today=sunday) == dt.date(2026, 12, 5)
    assert parse_date("nächstes Wochenende", today=FRIDAY) == dt.date(2026, 12, 5)
    assert parse_date("Ende der Woche", today=saturday) == dt.date(2026, 12, 4)


@pytest.mark.parametrize(
    ("said", "options"),
    [
        # Friday the 13th: the 13th of December 2026 is a Sunday.
        ("Freitag, den dreizehnten", [dt.date(2026, 12, 11), dt.date(2026, 12, 13)]),
        ("Mittwoch, 1.12.", [dt.date(2026, 12, 1), dt.date(2026, 12, 2)]),
        ("nächstes Wochenende", [dt.date(2026, 11, 28), dt.date(2026, 12, 5)]),
    ],
)
def test_ambiguous_dates_name_their_options(said, options):
    with pytest.raises(AmbiguousDate) as raised:
        parse_date(said, today=MONDAY)
    assert raised.value.options == options


@pytest.mark.parametrize("said", ["am zweiunddreißigsten", "am 32.", "am nullten"])
def test_days_that_do_not_exist(said):
    with pytest.raises(UnclearDate):
        parse_date(said, today=MONDAY)


def test_day_of_month_skips_months_without_it():
    # Said on 31 January 2027 after the 30th: February has no 30th, so March's.
    assert parse_date("am dreißigsten", today=dt.date(2027, 1, 31)) == dt.date(2027, 3, 30)


# ------------------------------------------------------------------------ times, rough or exact


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("Viertel nach drei", SpokenTime(dt.time(15, 15), True)),
        ("Viertel vor vier", SpokenTime(dt.time(15, 45), True)),
        ("dreiviertel vier", SpokenTime(dt.time(15, 45), True)),
        ("viertel vier", SpokenTime(dt.time(15, 15), True)),
        ("Viertel ab drei", SpokenTime(dt.time(15, 15), True)),  # Swiss
        ("zehn ab zehn", SpokenTime(dt.time(10, 10), True)),  # Swiss
        ("kurz nach zehn", SpokenTime(dt.time(10), False)),
        ("kurz vor elf", SpokenTime(dt.time(11), False)),
        ("gegen Mittag", SpokenTime(dt.time(12), False)),
        ("gegen zehn", SpokenTime(dt.time(10), False)),
        ("so um halb elf", SpokenTime(dt.time(10, 30), False)),
        ("nachmittags", SpokenTime(dt.time(15), False)),
        ("am Nachmittag", SpokenTime(dt.time(15), False)),
        ("vormittags", SpokenTime(dt.time(10), False)),
        ("am Abend", SpokenTime(dt.time(18), False)),
        ("morgens", SpokenTime(dt.time(9), False)),
        ("mittags", SpokenTime(dt.time(12), True)),
        ("nachmittags um drei", SpokenTime(dt.time(15), True)),
        ("um drei Uhr nachmittags", SpokenTime(dt.time(15), True)),
        ("um neun Uhr früh", SpokenTime(dt.time(9), True)),
        ("um zwölf", SpokenTime(dt.time(12), True)),
        ("halb eins", SpokenTime(dt.time(12, 30), True)),
        ("um 17 Uhr", SpokenTime(dt.time(17), True)),
    ],
)
def test_spoken_times(said, expected):
    assert parse_spoken_time(said) == expected


@pytest.mark.parametrize("said", ["gegen", "kurz nach", "irgendwann", "im Laufe des Tages"])
def test_rough_words_without_a_time(said):
    with pytest.raises(UnclearTime):
        parse_spoken_time(said)
