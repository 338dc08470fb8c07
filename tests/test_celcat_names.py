"""Splitting CELCAT's combined name, for each UserNameFormat."""

from __future__ import annotations

import pytest

from adapters.celcat.names import NameFormat, in_capitals, split_name

CASES: list[tuple[NameFormat, str, tuple[str, str] | None]] = [
    # "LAST, First": split at the first comma.
    ("LAST, First", "DUPONT, Marie", ("Marie", "DUPONT")),
    ("LAST, First", "DE LA FONTAINE, Jean-Éric", ("Jean-Éric", "DE LA FONTAINE")),
    ("LAST, First", "N'DIAYE,  Awa  Fatou ", ("Awa Fatou", "N'DIAYE")),
    ("LAST, First", "Van der Berg, Anna, Maria", ("Anna, Maria", "Van der Berg")),
    ("LAST, First", "MADONNA", None),
    ("LAST, First", "DUPONT,", None),
    ("LAST, First", ", Marie", None),
    ("LAST, First", "", None),
    # "First LAST": the trailing run of words in capitals.
    ("First LAST", "Marie DUPONT", ("Marie", "DUPONT")),
    ("First LAST", "Jean-Éric DE LA FONTAINE", ("Jean-Éric", "DE LA FONTAINE")),
    ("First LAST", "Zoé Chloé ÉTIENNE", ("Zoé Chloé", "ÉTIENNE")),
    ("First LAST", "Ibrahima N'DIAYE", ("Ibrahima", "N'DIAYE")),
    ("First LAST", "Nguyễn Văn AN", ("Nguyễn Văn", "AN")),
    ("First LAST", "Sean O'Brien", None),  # no word in capitals: no last name
    ("First LAST", "MARIE DUPONT", None),  # all capitals: no first name
    ("First LAST", "Cher", None),
    ("First LAST", "   ", None),
    # "LAST First": the leading run of words in capitals.
    ("LAST First", "DUPONT Marie", ("Marie", "DUPONT")),
    ("LAST First", "DE LA FONTAINE Jean-Éric", ("Jean-Éric", "DE LA FONTAINE")),
    ("LAST First", "LE GOFF Anne Sophie", ("Anne Sophie", "LE GOFF")),
    ("LAST First", "D'ALEMBERT Jean", ("Jean", "D'ALEMBERT")),
    ("LAST First", "Marie DUPONT", None),  # starts with a first name: no leading last name
    ("LAST First", "DUPONT", None),
    ("LAST First", "12345 !!", None),
]


@pytest.mark.parametrize(("layout", "name", "expected"), CASES)
def test_split_name(layout: NameFormat, name: str, expected: tuple[str, str] | None) -> None:
    assert split_name(name, layout) == expected


@pytest.mark.parametrize(
    ("word", "capitals"),
    [
        ("DUPONT", True),
        ("N'DIAYE", True),
        ("ÉTIENNE", True),
        ("DE", True),
        ("J.", True),
        ("Dupont", False),
        ("dUPONT", False),
        ("123", False),
        ("-", False),
        ("ß", False),
    ],
)
def test_in_capitals(word: str, capitals: bool) -> None:
    assert in_capitals(word) is capitals
