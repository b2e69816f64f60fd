"""Dates and times as a caller says them to the phone agent, in German.

Retell's LLM passes what the caller said more or less verbatim ("morgen", "nächsten Dienstag",
"halb drei"), or an ISO form when it converted it itself. Both are read here, relative to
"today" in the branch's time zone, which the caller passes in: the parser knows no clock.

Readings chosen where German is ambiguous (documented in README, "Phone path"):
- a bare weekday ("Dienstag", "am Dienstag") and "nächsten/kommenden Dienstag" mean the next
  such day after today; "übernächsten Dienstag" the one a week after that;
- a day without a year ("24.12.", "3. März") is this year's, or next year's once it has passed;
- an hour from 1 to 7 without "morgens"/"früh" is in the afternoon: a salon is not open at
  three in the night, so "halb drei" is 14:30 and "um 5" is 17:00.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

__all__ = ["UnclearDate", "UnclearTime", "normalise", "parse_date", "parse_time"]


class UnclearDate(ValueError):
    """The text names no date this parser understands (or an impossible one)."""


class UnclearTime(ValueError):
    """The text names no time of day this parser understands (or an impossible one)."""


def normalise(text: str) -> str:
    """Lower case, umlauts and ß spelled out (ä → ae, ß → ss), accents dropped, punctuation
    other than ':' and '.' turned into spaces, whitespace collapsed."""
    text = text.strip().lower()
    for umlaut, spelled in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        text = text.replace(umlaut, spelled)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = re.sub(r"[^a-z0-9:.\-]+", " ", text)
    return re.sub(r"\s+", " ", text).strip()


# ------------------------------------------------------------------------------ numbers

_UNITS = {
    "null": 0,
    "ein": 1,
    "eins": 1,
    "eine": 1,
    "einen": 1,
    "einer": 1,
    "zwei": 2,
    "drei": 3,
    "vier": 4,
    "fuenf": 5,
    "sechs": 6,
    "sieben": 7,
    "acht": 8,
    "neun": 9,
}
_TEENS = {
    "zehn": 10,
    "elf": 11,
    "zwoelf": 12,
    "dreizehn": 13,
    "vierzehn": 14,
    "fuenfzehn": 15,
    "sechzehn": 16,
    "siebzehn": 17,
    "achtzehn": 18,
    "neunzehn": 19,
}
_TENS = {"zwanzig": 20, "dreissig": 30, "vierzig": 40, "fuenfzig": 50}


def _number(word: str) -> int | None:
    """A cardinal from 0 to 59, in digits or German words ("dreiundzwanzig")."""
    if word.isdigit():
        return int(word)
    if word in _UNITS:
        return _UNITS[word]
    if word in _TEENS:
        return _TEENS[word]
    if word in _TENS:
        return _TENS[word]
    unit, sep, tens = word.partition("und")
    if sep and unit in _UNITS and tens in _TENS and _UNITS[unit] > 0:
        return _UNITS[unit] + _TENS[tens]
    return None


# --------------------------------------------------------------------------------- dates

_WEEKDAYS = {
    "montag": 0,
    "dienstag": 1,
    "mittwoch": 2,
    "donnerstag": 3,
    "freitag": 4,
    "samstag": 5,
    "sonnabend": 5,
    "sonntag": 6,
}
_MONTHS = {
    "januar": 1,
    "jaenner": 1,
    "jan": 1,
    "februar": 2,
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
_ORDINAL_DAYS = {
    "ersten": 1,
    "erste": 1,
    "zweiten": 2,
    "dritten": 3,
    "vierten": 4,
    "fuenften": 5,
    "sechsten": 6,
    "siebten": 7,
    "achten": 8,
    "neunten": 9,
    "zehnten": 10,
    "elften": 11,
    "zwoelften": 12,
}
_RELATIVE_DAYS = {"heute": 0, "morgen": 1, "uebermorgen": 2}

_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_NUMERIC_DATE = re.compile(r"(?<![\d.])(\d{1,2})\.(\d{1,2})\.?(?:(\d{4}|\d{2})(?!\d))?")
_DAY_MONTH_NAME = re.compile(r"(?<![\d.])(\d{1,2})\.? ?([a-z]+)(?: (\d{4}))?")
_IN_DAYS = re.compile(r"\bin (\S+) (tag|tagen|woche|wochen)\b")
_WEEKDAY_PHRASE = re.compile(
    r"\b(?:(uebernaechste[nmrs]?) |(naechste[nmrs]?|kommende[nmrs]?|diese[nmrs]?) )?"
    r"(?:am )?(" + "|".join(_WEEKDAYS) + r")\b"
)


def parse_date(text: str, *, today: dt.date) -> dt.date:
    """The date `text` names, read relative to `today` (the branch's local date).

    Raises UnclearDate when there is none or it cannot exist (31.02.)."""
    said = normalise(text)
    if not said:
        raise UnclearDate("Kein Datum angegeben.")

    iso = _ISO_DATE.search(said)
    if iso:
        return _date(int(iso[1]), int(iso[2]), int(iso[3]), text)

    for numeric in _NUMERIC_DATE.finditer(said):
        if 1 <= int(numeric[2]) <= 12:  # "14.30" is a time, not the 30th month
            return _dated(int(numeric[1]), int(numeric[2]), numeric[3], today, text)

    for match in _DAY_MONTH_NAME.finditer(said):
        month = _MONTHS.get(match[2])
        if month is not None:
            return _dated(int(match[1]), month, match[3], today, text)
    words = said.split()
    for index, word in enumerate(words[:-1]):
        month = _MONTHS.get(words[index + 1])
        day = _ORDINAL_DAYS.get(word)
        if month is not None and day is not None:
            return _dated(day, month, None, today, text)

    # A weekday first: in "Dienstag morgen" the "morgen" is the morning, not tomorrow.
    weekday = _WEEKDAY_PHRASE.search(said)
    if weekday:
        wanted = _WEEKDAYS[weekday[3]]
        if re.search(r"\b(naechste|kommende) woche\b", said):
            return today + dt.timedelta(days=7 - today.weekday() + wanted)
        ahead = (wanted - today.weekday()) % 7 or 7
        if weekday[1]:
            ahead += 7
        return today + dt.timedelta(days=ahead)

    for word in words:
        if word in _RELATIVE_DAYS:
            return today + dt.timedelta(days=_RELATIVE_DAYS[word])

    within = _IN_DAYS.search(said)
    if within:
        count = _number(within[1])
        if count is None:
            raise UnclearDate(f"Unklare Anzahl in '{text}'.")
        unit = 7 if within[2].startswith("woche") else 1
        return today + dt.timedelta(days=count * unit)

    if re.search(r"\b(naechste|kommende) woche\b", said):
        return today + dt.timedelta(days=7 - today.weekday())

    raise UnclearDate(f"Das Datum '{text}' habe ich nicht verstanden.")


def _date(year: int, month: int, day: int, text: str) -> dt.date:
    try:
        return dt.date(year, month, day)
    except ValueError as exc:
        raise UnclearDate(f"Den Tag '{text}' gibt es nicht.") from exc


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


# --------------------------------------------------------------------------------- times

_ISO_TIME = re.compile(r"(?:t|\b)(\d{1,2})[:.](\d{2})(?::\d{2}(?:\.\d+)?)?\b")
_HOUR_WORD = r"([a-z]+|\d{1,2})"
_MORNING = ("morgens", "frueh", "vormittags", "vormittag", "nachts")
_AFTERNOON = ("nachmittags", "nachmittag", "abends", "abend", "pm")
_MINUTE_WORDS = {"viertel": 15, "dreiviertel": 45}


def parse_time(text: str) -> dt.time:
    """The time of day `text` names: "14:30", "14.30", "14 Uhr", "vierzehn Uhr dreißig",
    "halb drei", "viertel nach zehn", "viertel vor elf", "dreiviertel elf", "zehn nach drei",
    "fünf vor halb vier", "mittags", an ISO date-time's time.

    Raises UnclearTime when there is none or it cannot exist (25:00)."""
    said = normalise(text)
    if not said:
        raise UnclearTime("Keine Uhrzeit angegeben.")
    if said in ("mittag", "mittags", "zu mittag", "am mittag"):
        return dt.time(12)
    hour, minute = _clock(said, text)
    hour = _afternoon(hour, said)
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise UnclearTime(f"Die Uhrzeit '{text}' gibt es nicht.")
    return dt.time(hour, minute)


def _clock(said: str, text: str) -> tuple[int, int]:
    """(hour, minute) as said, before the morning/afternoon reading."""
    iso = _ISO_TIME.search(said)
    if iso:
        return int(iso[1]), int(iso[2])

    # "fünf vor halb drei", "zehn nach halb vier"
    match = re.search(r"\b(\S+) (vor|nach) halb " + _HOUR_WORD + r"\b", said)
    if match:
        minutes, hour = _number(match[1]), _number(match[3])
        if minutes is not None and hour is not None:
            base = (hour - 1) * 60 + 30
            offset = -minutes if match[2] == "vor" else minutes
            return divmod(base + offset, 60)

    match = re.search(r"\bhalb " + _HOUR_WORD + r"\b", said)
    if match:
        hour = _hour(match[1], text)
        return (hour - 1) % 24 or 12, 30  # "halb eins" is lunchtime

    # "viertel nach zehn", "zwanzig vor elf", "5 nach 3"
    match = re.search(r"\b(\S+) (vor|nach) " + _HOUR_WORD + r"\b", said)
    if match:
        minutes = _MINUTE_WORDS.get(match[1], _number(match[1]))
        hour = _number(match[3])
        if minutes is not None and hour is not None and 0 < minutes < 60:
            if match[2] == "nach":
                return hour, minutes
            return (hour - 1) % 24, 60 - minutes

    # "dreiviertel elf" = 10:45, "viertel elf" = 10:15 (the eastern and southern reading)
    match = re.search(r"\b(dreiviertel|viertel) " + _HOUR_WORD + r"\b", said)
    if match:
        hour = _hour(match[2], text)
        return (hour - 1) % 24, _MINUTE_WORDS[match[1]]

    # "14 uhr", "vierzehn uhr dreissig", "um 9", "drei uhr fuenfzehn"
    match = re.search(r"\b" + _HOUR_WORD + r" uhr(?: (\S+))?", said)
    if match:
        hour = _hour(match[1], text)
        minute = _number(match[2]) if match[2] else None
        return hour, minute or 0

    words = [w for w in said.split() if w not in ("um", "gegen", "so", "ca", "etwa", "am")]
    words = [w for w in words if w not in _MORNING + _AFTERNOON]
    if len(words) == 1 and _number(words[0]) is not None:
        return _hour(words[0], text), 0
    if len(words) == 2 and _number(words[0]) is not None and _number(words[1]) is not None:
        return _hour(words[0], text), _number(words[1]) or 0
    raise UnclearTime(f"Die Uhrzeit '{text}' habe ich nicht verstanden.")


def _hour(word: str, text: str) -> int:
    hour = _number(word)
    if hour is None or hour > 24:
        raise UnclearTime(f"Die Uhrzeit '{text}' habe ich nicht verstanden.")
    return 0 if hour == 24 else hour


def _afternoon(hour: int, said: str) -> int:
    words = said.split()
    if any(word in _MORNING for word in words):
        return hour
    if any(word in _AFTERNOON for word in words):
        return hour + 12 if hour < 12 else hour
    return hour + 12 if 1 <= hour <= 7 else hour
