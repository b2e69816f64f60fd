"""Text as clients send it."""

# Spaces, tabs and line breaks around a text are a client's slip and are dropped; the other
# characters Python counts as white space (the separators U+001C–U+001F, U+0085, …) are data
# that the field's own rules judge.
BLANKS = " \t\r\n"


def strip_blanks(text: str) -> str:
    return text.strip(BLANKS)
