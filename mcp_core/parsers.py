"""The REST front door's body parser."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework.parsers import JSONParser

from common.jsonbody import parse_json


class BodyParser(JSONParser):
    """DRF's JSON parser reading with common.jsonbody: too deep, NUL or NaN is a 400 envelope
    (DRF's own would raise RecursionError into a 500 on deep nesting)."""

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        return parse_json(stream.read() if stream is not None else b"")
