"""People's names as a French institution's CELCAT holds them, and the emails made from them.

The lists mix French and international names on purpose: accents, hyphens, apostrophes,
particles and several-word surnames are what breaks a name splitter or an email check.
Surnames are listed in ordinary case; ``full_name`` writes them in capitals, which is how
a splitter tells them from the first name.
"""

from __future__ import annotations

import re
import unicodedata

from adapters.celcat.sandbox.state import UserNameFormat

FIRST_NAMES: tuple[str, ...] = (
    "Marie", "Jean", "Jean-Éric", "Zoé", "Chloé", "Léa", "Camille", "Louis", "Hugo",
    "Lucas", "Inès", "Manon", "Théo", "Gabriel", "Emma", "Jade", "Noémie", "Anaïs",
    "Maëlle", "François", "Hélène", "Stéphane", "Cédric", "Loïc", "Gaëlle", "Benoît",
    "Anne-Sophie", "Marc-Antoine", "Pierre-Louis", "Ibrahima", "Aminata", "Fatou", "Moussa",
    "Mamadou", "Awa", "Karim", "Yasmine", "Mohamed", "Fatima", "Nour", "Youssef", "Sean",
    "Siobhan", "Aoife", "Liam", "Søren", "Ingrid", "Björn", "Åsa", "Jürgen", "Zoë", "Mei",
    "Linh", "Minh", "Thảo", "Hiroshi", "Yuki", "João", "Inês", "Álvaro", "Lucía",
    "Małgorzata", "Wojciech", "Dmitri", "Olga", "Chidi", "Ngozi", "Élodie", "Océane",
)  # fmt: skip

SURNAMES: tuple[str, ...] = (
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand",
    "Leroy", "Moreau", "Simon", "Laurent", "Lefebvre", "Michel", "Garcia", "David",
    "Bertrand", "Roux", "Vincent", "Fournier", "Morel", "Girard", "André", "Lefèvre",
    "Mercier", "Dupont", "Lambert", "Bonnet", "François", "Martinez", "de La Fontaine",
    "van der Berg", "N'Diaye", "Le Goff", "Étienne", "d'Alembert", "Le Gall", "Le Roux",
    "de Saint-Exupéry", "Diallo", "Traoré", "Sow", "Nguyễn", "Trần", "Lê", "O'Brien",
    "McCarthy", "Kowalski", "Müller", "Schröder", "Ødegaard", "Jørgensen", "da Silva",
    "dos Santos", "Ben Ahmed", "El Amrani", "Benali", "Haddad", "Okafor", "Tanaka",
    "Kim", "Rossi", "Ferreira", "Mbappé", "Coulibaly",
)  # fmt: skip

# Letters that Unicode does not decompose into an ASCII letter and an accent.
_ASCII = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ß": "ss"})


def full_name(first: str, last: str, layout: UserNameFormat) -> str:
    """The combined ``name`` field, the last name in capitals."""
    last = last.upper()
    if layout == "LAST, First":
        return f"{last}, {first}"
    if layout == "First LAST":
        return f"{first} {last}"
    return f"{last} {first}"


def slug(text: str) -> str:
    """``"Jean-Éric"`` -> ``"jean-eric"``, ``"N'Diaye"`` -> ``"n-diaye"``: ASCII for emails."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().translate(_ASCII))
    ascii_only = decomposed.encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_only).strip("-")


# Programmes: (discipline, code, subjects); groups are "{level} {discipline} G{n}".
LEVELS: tuple[str, ...] = ("L1", "L2", "L3", "M1", "M2")
PROGRAMMES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Informatique", "INFO", ("Algorithmique", "Bases de données", "Réseaux", "Génie logiciel")),
    ("Droit", "DROIT", ("Droit constitutionnel", "Droit des obligations", "Droit pénal")),
    ("Économie", "ECO", ("Microéconomie", "Macroéconomie", "Économétrie", "Histoire économique")),
    ("Mathématiques", "MATHS", ("Analyse", "Algèbre linéaire", "Probabilités", "Topologie")),
    ("Biologie", "BIO", ("Biologie cellulaire", "Génétique", "Écologie", "Biochimie")),
    ("Histoire", "HIST", ("Histoire médiévale", "Histoire contemporaine", "Historiographie")),
    ("Psychologie", "PSY", ("Psychologie sociale", "Neurosciences", "Statistiques appliquées")),
    ("Gestion", "GEST", ("Comptabilité", "Marketing", "Contrôle de gestion", "Finance")),
    ("Lettres modernes", "LETTRES", ("Littérature du XIXe", "Stylistique", "Ancien français")),
    ("Physique-Chimie", "PC", ("Mécanique", "Thermodynamique", "Chimie organique", "Optique")),
)
OPTIONS: tuple[str, ...] = (
    "Anglais B2", "Espagnol débutant", "Allemand LV2", "Sport", "Culture générale",
    "Méthodologie du travail universitaire", "Projet Voltaire", "Prise de parole en public",
)  # fmt: skip
MEETINGS: tuple[str, ...] = (
    "Réunion pédagogique", "Conseil de perfectionnement", "Jury de semestre",
    "Réunion de rentrée", "Commission des stages",
)  # fmt: skip
NOTES: tuple[str, ...] = (
    "Apporter un ordinateur portable", "Séance déplacée", "Rattrapage", "Salle informatique",
    "Intervenant extérieur",
)  # fmt: skip
AMPHIS: tuple[str, ...] = ("Amphi A", "Amphi B", "Amphi C", "Amphi Descartes", "Amphi Curie")
