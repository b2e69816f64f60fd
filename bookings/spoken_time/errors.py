"""What the readers raise: a German sentence the phone agent can say as it is."""

from __future__ import annotations

import datetime as dt


class UnclearDate(ValueError):
    """The text names no date this parser understands (or an impossible one)."""


class UnclearTime(ValueError):
    """The text names no time of day this parser understands (or an impossible one)."""


class AmbiguousDate(UnclearDate):
    """The text fits more than one day: `question` asks the caller which one, and `options`
    are the days it could mean, in the order the question names them."""

    def __init__(self, question: str, options: list[dt.date]):
        super().__init__(question)
        self.question = question
        self.options = options
