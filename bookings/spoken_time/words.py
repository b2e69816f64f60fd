"""German number words, cardinal and ordinal, and the text normalisation both readers share."""

from __future__ import annotations

import re
import unicodedata


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


UNITS = {
    "null": 0,
    "ein": 1,
    "eins": 1,
    "eine": 1,
    "einen": 1,
    "einer": 1,
    "zwei": 2,
    "zwo": 2,
    "drei": 3,
    "vier": 4,
    "fuenf": 5,
    "sechs": 6,
    "sieben": 7,
    "acht": 8,
    "neun": 9,
}
TEENS = {
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
TENS = {"zwanzig": 20, "dreissig": 30, "vierzig": 40, "fuenfzig": 50}

# Ordinal stems that are not "cardinal + te": erste, dritte, siebte (and siebente), achte.
_IRREGULAR_ORDINALS = {"ers": 1, "drit": 3, "sieb": 7, "sieben": 7, "ach": 8}
_ORDINAL_ENDINGS = ("sten", "ster", "stem", "ste", "ten", "ter", "tem", "tes", "te")


def number(word: str) -> int | None:
    """A cardinal from 0 to 59, in digits or German words ("dreiundzwanzig")."""
    if word.isdigit():
        return int(word)
    if word in UNITS:
        return UNITS[word]
    if word in TEENS:
        return TEENS[word]
    if word in TENS:
        return TENS[word]
    unit, sep, tens = word.partition("und")
    if sep and unit in UNITS and tens in TENS and UNITS[unit] > 0:
        return UNITS[unit] + TENS[tens]
    return None


def ordinal(word: str) -> int | None:
    """An ordinal in words ("fuenfzehnten", "einunddreissigsten", "dritte") or digits with
    the dot ("3."), or None. Only the ending marks an ordinal: "drei" is not one."""
    if re.fullmatch(r"\d{1,2}\.", word):
        return int(word[:-1])
    for ending in _ORDINAL_ENDINGS:
        if not word.endswith(ending):
            continue
        stem = word[: -len(ending)]
        if ending.startswith("s") and stem in TENS.keys() | {"ein"}:
            return None if stem == "ein" else TENS[stem]
        if ending.startswith("s"):
            unit, sep, tens = stem.partition("und")
            if sep and unit in UNITS and tens in TENS and UNITS[unit] > 0:
                return UNITS[unit] + TENS[tens]
            continue
        if stem in _IRREGULAR_ORDINALS:
            return _IRREGULAR_ORDINALS[stem]
        value = UNITS.get(stem, TEENS.get(stem))
        if value is not None and value > 0 and stem not in ("eins", "eine", "einen", "einer"):
            return value
    return None
