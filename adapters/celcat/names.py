"""Splitting CELCAT's one combined ``name`` into first and last name.

The layout is the institution's ``UserNameFormat``. The last name is told apart by being
written in capitals, so particles and compound names stay whole ("DE LA FONTAINE",
"Jean-Éric"); a name that does not split into a non-empty first and last name is not
guessed at: ``split_name`` returns None and the person is reported invalid.
"""

from __future__ import annotations

from typing import Literal

NameFormat = Literal["LAST, First", "First LAST", "LAST First"]
NAME_FORMATS: tuple[NameFormat, ...] = ("LAST, First", "First LAST", "LAST First")


def in_capitals(word: str) -> bool:
    """At least one cased letter and no lower-case one: ``N'DIAYE``, ``ÉTIENNE``, ``DE``."""
    return any(c.isupper() for c in word) and not any(c.islower() for c in word)


def split_name(name: str, layout: NameFormat) -> tuple[str, str] | None:
    """(first name, last name) of ``name`` written in ``layout``, or None."""
    if layout == "LAST, First":
        last, comma, first = name.partition(",")
        parts = (" ".join(first.split()), " ".join(last.split())) if comma else ("", "")
    else:
        words = name.split()
        if layout == "First LAST":
            cut = len(words)
            while cut > 0 and in_capitals(words[cut - 1]):
                cut -= 1
            parts = (" ".join(words[:cut]), " ".join(words[cut:]))
        else:
            cut = 0
            while cut < len(words) and in_capitals(words[cut]):
                cut += 1
            parts = (" ".join(words[cut:]), " ".join(words[:cut]))
    return parts if all(parts) else None
