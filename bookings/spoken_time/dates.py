"""The day a caller names, relative to the branch's local "today" (the parser knows no clock).

Readings where German is ambiguous are listed in docs/spoken-time.md; where no reading is
safe, AmbiguousDate names the candidate days so the agent can ask.
"""

from __future__ import annotations

import datetime as dt
import re

from bookings.spoken_time.errors import AmbiguousDate, UnclearDate
from bookings.spoken_time.words import normalise, number, ordinal

WEEKDAYS = {
    "montag": 0,
    "dienstag": 1,
    "mittwoch": 2,
    "donnerstag": 3,
    "freitag": 4,
    "samstag": 5,
    "sonnabend": 5,
    "sonntag": 6,
}
MONTHS = {
    "januar": 1,
    "jaenner": 1,  # Austria
    "jan": 1,
    "februar": 2,
    "feber": 2,  # Austria
    "feb": 2,
    "maerz": 3,
    "mrz": 3,
    "april": 4,
    "apr": 4,
    "mai": 5,
    "juni": 6,
    "jun": 6,
    "juli": 7,
    "jul": 7,
    "august": 8,
    "aug": 8,
    "september": 9,
    "sep": 9,
    "sept": 9,
    "oktober": 10,
    "okt": 10,
    "november": 11,
    "nov": 11,
    "dezember": 12,
    "dez": 12,
}
# "morn" and "übermorn" are Swiss German.
_RELATIVE_DAYS = {"heute": 0, "morgen": 1, "morn": 1, "uebermorgen": 2, "uebermorn": 2}

_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_NUMERIC_DATE = re.compile(r"(?<![\d.])(\d{1,2})\.(\d{1,2})\.?(?:(\d{4}|\d{2})(?!\d))?")
_YEAR = re.compile(r"^\d{4}$")
_IN_DAYS = re.compile(r"\bin (\S+) (tag|tagen|woche|wochen)\b")
_NEXT = r"(?:naechste[nmrs]?|kommende[nmrs]?)"
_WEEK_PART = re.compile(r"\b(anfang|mitte|ende) (?:der |dieser |diese )?(" + _NEXT + r" )?woche\b")
_WEEKEND = re.compile(r"\b(?:(uebernaechste[nmrs]?|" + _NEXT + r"|diese[nmrs]?|am) )?wochenende\b")
_WEEKDAY_PHRASE = re.compile(
    r"\b(?:(uebernaechste[nmrs]?) |(" + _NEXT + r"|diese[nmrs]?) )?"
    r"(?:am )?(" + "|".join(WEEKDAYS) + r")\b"
)
_NEXT_WEEK = re.compile(r"\b" + _NEXT + r" woche\b")


def parse_date(text: str, *, today: dt.date) -> dt.date:
    """The date `text` names, read relative to `today` (the branch's local date).

    Raises UnclearDate when there is none or it cannot exist (31.02.), AmbiguousDate when it
    fits more than one day."""
    said = normalise(text)
    if not said:
        raise UnclearDate("Kein Datum angegeben.")

    iso = _ISO_DATE.search(said)
    if iso:
        return _date(int(iso[1]), int(iso[2]), int(iso[3]), text)

    for numeric in _NUMERIC_DATE.finditer(said):
        if 1 <= int(numeric[2]) <= 12:  # "14.30" is a time, not the 30th month
            return _checked(_dated(int(numeric[1]), int(numeric[2]), numeric[3], today, text), said)

    words = said.split()
    day_of_month = _day_and_month(words, today, text)
    if day_of_month is not None:
        return _checked(day_of_month, said)
    for index, word in enumerate(words):
        day = ordinal(word)
        if day is not None and (index == 0 or words[index - 1] in ("am", "den", "dem", "der")):
            return _checked(_next_day_of_month(day, today, text), said)

    week_part = _WEEK_PART.search(said)
    if week_part:
        monday = _monday(today) + dt.timedelta(days=7 if week_part[2] else 0)
        found = monday + dt.timedelta(days={"anfang": 0, "mitte": 2, "ende": 4}[week_part[1]])
        return found if found >= today else found + dt.timedelta(days=7)

    weekend = _WEEKEND.search(said)
    if weekend:
        return _weekend(weekend[1] or "", today)

    # A weekday first: in "Dienstag morgen" the "morgen" is the morning, not tomorrow.
    weekday = _WEEKDAY_PHRASE.search(said)
    if weekday:
        wanted = WEEKDAYS[weekday[3]]
        if _NEXT_WEEK.search(said):
            return _monday(today) + dt.timedelta(days=7 + wanted)
        ahead = (wanted - today.weekday()) % 7 or 7
        if weekday[1]:
            ahead += 7
        return today + dt.timedelta(days=ahead)

    for word in words:
        if word in _RELATIVE_DAYS:
            return today + dt.timedelta(days=_RELATIVE_DAYS[word])

    within = _IN_DAYS.search(said)
    if within:
        count = number(within[1])
        if count is None:
            raise UnclearDate(f"Unklare Anzahl in '{text}'.")
        unit = 7 if within[2].startswith("woche") else 1
        return today + dt.timedelta(days=count * unit)

    if _NEXT_WEEK.search(said):
        return _monday(today) + dt.timedelta(days=7)

    raise UnclearDate(f"Das Datum '{text}' habe ich nicht verstanden.")


def _monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def _day_and_month(words: list[str], today: dt.date, text: str) -> dt.date | None:
    """'15. Januar', '15 januar 2028', 'fuenfzehnten januar', 'zwanzigsten zwoelften'."""
    for index, word in enumerate(words[:-1]):
        following = words[index + 1]
        day = ordinal(word) if not word.isdigit() else int(word)
        month = MONTHS.get(following)
        if month is None and ordinal(following) is not None and not following[:-1].isdigit():
            month = ordinal(following)
            if month is not None and not 1 <= month <= 12:
                month = None
        if day is None or month is None:
            continue
        after = words[index + 2] if index + 2 < len(words) else ""
        year = after if _YEAR.match(after) else None
        if after == "heuer":  # Austrian: this year, even when the day has passed
            year = str(today.year)
        return _dated(day, month, year, today, text)
    return None


def _checked(day: dt.date, said: str) -> dt.date:
    """A date said together with a weekday ("Freitag, den dreizehnten"): both must agree,
    otherwise the caller is asked which of the two they meant."""
    named = [WEEKDAYS[w] for w in said.split() if w in WEEKDAYS]
    if not named or named[0] == day.weekday():
        return day
    by_weekday = day + dt.timedelta(days=(named[0] - day.weekday()) % 7)
    if (by_weekday - day).days > 3:
        by_weekday -= dt.timedelta(days=7)
    raise AmbiguousDate(
        f"Wochentag und Datum passen nicht zusammen: '{said}'.", sorted({day, by_weekday})
    )


def _weekend(which: str, today: dt.date) -> dt.date:
    """The Saturday of the weekend meant (salons rarely open on Sundays, and the answer
    names the day, so the caller hears it)."""
    saturday = today + dt.timedelta(days=(5 - today.weekday()) % 7)
    if today.weekday() == 6:  # on a Sunday, this weekend is over
        saturday = today + dt.timedelta(days=6)
    if which.startswith("uebernaechst"):
        return saturday + dt.timedelta(days=7)
    if which.startswith(("naechst", "kommend")):
        if today.weekday() >= 4:
            return saturday + dt.timedelta(days=7)
        # Said from Monday to Thursday, "nächstes Wochenende" means this one to some and the
        # one after to others.
        raise AmbiguousDate(
            "'nächstes Wochenende' ist mehrdeutig.", [saturday, saturday + dt.timedelta(days=7)]
        )
    return saturday


def _date(year: int, month: int, day: int, text: str) -> dt.date:
    try:
        return dt.date(year, month, day)
    except ValueError as exc:
        raise UnclearDate(f"Den Tag '{text}' gibt es nicht.") from exc


def _next_day_of_month(day: int, today: dt.date, text: str) -> dt.date:
    """'am dreizehnten', 'am 3.': this month's, or the next month that has that day."""
    if not 1 <= day <= 31:
        raise UnclearDate(f"Den Tag '{text}' gibt es nicht.")
    year, month = today.year, today.month
    for _ in range(13):
        try:
            found = dt.date(year, month, day)
        except ValueError:
            found = None
        if found is not None and found >= today:
            return found
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    raise UnclearDate(f"Den Tag '{text}' gibt es nicht.")


def _dated(day: int, month: int, year_text: str | None, today: dt.date, text: str) -> dt.date:
    if year_text:
        year = int(year_text)
        return _date(year + 2000 if year < 100 else year, month, day, text)
    candidate = _date(today.year, month, day, text) if (month, day) != (2, 29) else None
    if candidate is None or candidate < today:
        # 29.02. in a year without it, or a day already past: the next year that has it.
        for year in range(today.year + (candidate is not None), today.year + 9):
            try:
                found = dt.date(year, month, day)
            except ValueError:
                continue
            if found >= today:
                return found
        raise UnclearDate(f"Den Tag '{text}' gibt es nicht.")
    return candidate
