"""The time of day a caller names: clock readings, the spoken forms of Germany, Austria and
Switzerland, and rough times ("gegen Mittag", "nachmittags") marked as not exact."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from bookings.spoken_time.errors import UnclearTime
from bookings.spoken_time.words import normalise, number

_ISO_TIME = re.compile(r"(?:t|\b)(\d{1,2})[:.](\d{2})(?::\d{2}(?:\.\d+)?)?\b")
_HOUR_WORD = r"([a-z]+|\d{1,2})"
_MORNING = ("morgens", "frueh", "vormittags", "vormittag", "nachts")
_AFTERNOON = ("nachmittags", "nachmittag", "abends", "abend", "pm")
_MINUTE_WORDS = {"viertel": 15, "dreiviertel": 45}
# A part of the day without a clock time: the hour the agent looks around.
_PARTS_OF_DAY = {
    "morgens": 9,
    "frueh": 9,
    "vormittag": 10,
    "vormittags": 10,
    "mittag": 12,
    "mittags": 12,
    "nachmittag": 15,
    "nachmittags": 15,
    "abend": 18,
    "abends": 18,
}
# Words that make a time approximate, and words that carry no time at all.
_ROUGHLY = ("gegen", "kurz", "ungefaehr", "etwa", "circa", "ca", "so", "zirka")
_FILLER = ("um", "am", "zu", "den", "uhr", "irgendwann", "im", "laufe", "des", "vom", "in")


@dataclass(frozen=True)
class SpokenTime:
    """A time of day and whether the caller named it exactly ("14:30", "Viertel nach drei")
    or only roughly ("gegen zehn", "kurz nach zehn", "nachmittags")."""

    time: dt.time
    exact: bool


def parse_time(text: str) -> dt.time:
    """The time of day `text` names (exact or rough); raises UnclearTime."""
    return parse_spoken_time(text).time


def parse_spoken_time(text: str) -> SpokenTime:
    """The time of day `text` names: "14:30", "14 Uhr", "vierzehn Uhr dreißig", "halb drei",
    "Viertel nach zehn", "Viertel ab drei" (Swiss), "dreiviertel elf" and "viertel elf"
    (southern and eastern), "fünf vor halb vier", "kurz nach zehn", "gegen Mittag",
    "nachmittags", an ISO date-time's time.

    Raises UnclearTime when there is none or it cannot exist (25:00)."""
    said = normalise(text).replace(" ab ", " nach ")  # Swiss "viertel ab drei"
    if not said:
        raise UnclearTime("Keine Uhrzeit angegeben.")
    words = said.split()
    rough = any(word in _ROUGHLY for word in words)
    meaningful = [w for w in words if w not in _ROUGHLY + _FILLER]
    if len(meaningful) == 1 and meaningful[0] in _PARTS_OF_DAY:
        exact = meaningful[0] in ("mittag", "mittags") and not rough
        return SpokenTime(dt.time(_PARTS_OF_DAY[meaningful[0]]), exact)
    hour, minute = _clock(said, text)
    hour = _afternoon(hour, said)
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise UnclearTime(f"Die Uhrzeit '{text}' gibt es nicht.")
    return SpokenTime(dt.time(hour, minute), not rough)


def _clock(said: str, text: str) -> tuple[int, int]:
    """(hour, minute) as said, before the morning/afternoon reading."""
    iso = _ISO_TIME.search(said)
    if iso:
        return int(iso[1]), int(iso[2])

    # "fünf vor halb drei", "zehn nach halb vier"
    match = re.search(r"\b(\S+) (vor|nach) halb " + _HOUR_WORD + r"\b", said)
    if match:
        minutes, hour = number(match[1]), number(match[3])
        if minutes is not None and hour is not None:
            base = (hour - 1) * 60 + 30
            offset = -minutes if match[2] == "vor" else minutes
            return divmod(base + offset, 60)

    match = re.search(r"\bhalb " + _HOUR_WORD + r"\b", said)
    if match:
        hour = _hour(match[1], text)
        return (hour - 1) % 24 or 12, 30  # "halb eins" is lunchtime

    # "kurz nach zehn", "kurz vor elf": the hour itself, marked rough by the caller
    match = re.search(r"\bkurz (?:vor|nach) " + _HOUR_WORD + r"\b", said)
    if match:
        return _hour(match[1], text), 0

    # "viertel nach zehn", "zwanzig vor elf", "5 nach 3"
    match = re.search(r"\b(\S+) (vor|nach) " + _HOUR_WORD + r"\b", said)
    if match:
        minutes = _MINUTE_WORDS.get(match[1], number(match[1]))
        hour = number(match[3])
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
        minute = number(match[2]) if match[2] else None
        return hour, minute or 0

    words = [w for w in said.split() if w not in _ROUGHLY + _FILLER]
    words = [w for w in words if w not in _MORNING + _AFTERNOON]
    if len(words) == 1 and number(words[0]) is not None:
        return _hour(words[0], text), 0
    if len(words) == 2 and number(words[0]) is not None and number(words[1]) is not None:
        return _hour(words[0], text), number(words[1]) or 0
    raise UnclearTime(f"Die Uhrzeit '{text}' habe ich nicht verstanden.")


def _hour(word: str, text: str) -> int:
    hour = number(word)
    if hour is None or hour > 24:
        raise UnclearTime(f"Die Uhrzeit '{text}' habe ich nicht verstanden.")
    return 0 if hour == 24 else hour


def _afternoon(hour: int, said: str) -> int:
    """An hour from 1 to 7 without "morgens"/"früh" is in the afternoon: a salon is not open
    at three in the night, so "halb drei" is 14:30 and "um 5" is 17:00."""
    words = said.split()
    if any(word in _MORNING for word in words):
        return hour
    if any(word in _AFTERNOON for word in words):
        return hour + 12 if hour < 12 else hour
    return hour + 12 if 1 <= hour <= 7 else hour
