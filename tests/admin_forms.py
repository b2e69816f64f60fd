"""What a browser submits from an admin page's form, for tests that post a form back."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any


class _FormReader(HTMLParser):
    """What a browser would submit from the page's model form, unchanged."""

    def __init__(self) -> None:
        super().__init__()
        self.data: list[tuple[str, str]] = []
        self._in_form = False
        self._select: str | None = None
        self._textarea: str | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("id", "").endswith("_form"):
            self._in_form = True
        if not self._in_form or ("name" not in a and tag != "option"):
            return
        if tag == "input":
            kind = a.get("type", "text")
            if kind in {"submit", "button", "file", "image", "reset"}:
                return
            if kind in {"checkbox", "radio"} and "checked" not in a:
                return
            value = a.get("value", "on" if kind == "checkbox" else "")
            self.data.append((a["name"], value))
        elif tag == "select":
            self._select = a["name"]
        elif tag == "option" and self._select is not None and "selected" in a:
            self.data.append((self._select, a.get("value", "")))
        elif tag == "textarea":
            self._textarea, self._text = a["name"], ""

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self.data.append((self._textarea, self._text.lstrip("\n")))
            self._textarea = None


def form_data(html: str) -> dict[str, Any]:
    reader = _FormReader()
    reader.feed(html)
    data: dict[str, Any] = {}
    for name, value in reader.data:
        data.setdefault(name, []).append(value)
    return {k: v if len(v) > 1 else v[0] for k, v in data.items() if k != "csrfmiddlewaretoken"}
