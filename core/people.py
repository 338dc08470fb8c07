"""Who is a valid person, and who loses a shared email to whom. ERP-neutral."""

from __future__ import annotations

import functools
from collections.abc import Iterable

from email_validator import EmailNotValidError, validate_email

from core.models import Person


@functools.lru_cache(maxsize=65_536)  # a person is judged again in each session they attend
def person_problem(person: Person) -> str | None:
    """Why ``person`` cannot be written to an attendance system, or None if they can."""
    if not person.first_name.strip() or not person.last_name.strip():
        part = "first name" if not person.first_name.strip() else "last name"
        shown = person.source_name or f"{person.first_name} {person.last_name}".strip()
        return f"name {shown!r} gives no {part}"
    if any(c in "<>" for c in person.first_name + person.last_name):
        # No one's name holds markup; an attendance system might render it as such.
        return f"name {person.source_name or person.last_name!r} holds markup characters"
    if not person.email.strip():
        return "no email"
    try:
        # ASCII only: attendance systems send credentials by plain SMTP.
        validate_email(person.email, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        return f"email {person.email!r} is not valid: {exc}"
    return None


def email_key(email: str) -> str:
    return email.strip().casefold()


def id_order(source_id: str) -> tuple[int, int, str]:
    """Order ids as a person would: numerically when they are numbers."""
    return (0, int(source_id), "") if source_id.isdigit() else (1, 0, source_id)


def email_owners(people: Iterable[Person]) -> dict[str, Person]:
    """For each email shared or not, the person who keeps it: the lowest source id."""
    owners: dict[str, Person] = {}
    for person in people:
        key = email_key(person.email)
        if not key:
            continue
        owner = owners.get(key)
        if owner is None or id_order(person.source_id) < id_order(owner.source_id):
            owners[key] = person
    return owners
