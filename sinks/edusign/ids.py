"""The ids the Edusign plugin makes: the only module that builds and parses them.

- ``API_ID``: what the connector writes on each of its records, so that a later run (or
  a lost state store) finds them again. A tenant alone on its Edusign school writes the
  source's external id as is (``celcat:3:5120:2025-10-21``, as sync-rules.md shows).
  Tenants sharing a school write it behind their name and an ``@``:
  ``acme@celcat:3:5120:2025-10-21``. Still readable, and a tenant name
  (``[a-z0-9][a-z0-9_]*``, core/config.py) holds no ``@``. Not a ``/``: the API_ID
  travels in get-id's URL path. Each tenant changes and deletes only the records whose
  ``API_ID`` carries its own scope (``Scope``).
- Placeholders: the id a dry run gives an object it would create, which exists nowhere.

The source's external ids are the source's (opaque here); Edusign's own record ids are
checked where they are read (``mapping.edusign_id``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

SCOPE_SEPARATOR = "@"
_SCOPED = re.compile(r"^([a-z0-9][a-z0-9_]*)@(.+)$")
_PLACEHOLDER = "(new "


def api_id(external_id: str, scope: str | None) -> str:
    """The ``API_ID`` a tenant writes for one of its source's objects."""
    return external_id if scope is None else f"{scope}{SCOPE_SEPARATOR}{external_id}"


def owner(written: str) -> tuple[str | None, str]:
    """Who wrote an ``API_ID`` (a tenant's scope, or None) and the source's external id."""
    match = _SCOPED.match(written)
    return (match[1], match[2]) if match else (None, written)


def placeholder(external_id: str) -> str:
    """The Edusign id a dry run shows for an object it would create."""
    return f"{_PLACEHOLDER}{external_id})"


def is_placeholder(remote_id: str) -> bool:
    return remote_id.startswith(_PLACEHOLDER)


@dataclass(frozen=True, slots=True)
class Scope:
    """One tenant's ``API_ID``s: ``name`` is its scope when it shares its school, else None."""

    tenant: str
    name: str | None

    @classmethod
    def of(cls, tenant: str, *, shared: bool) -> Scope:
        return cls(tenant, tenant if shared else None)

    def api_id(self, external_id: str) -> str:
        return api_id(external_id, self.name)

    def owns(self, written: Any) -> bool:
        """Whether an ``API_ID`` is this tenant's: of its scope; unscoped, only when the
        tenant is alone on its school (it then also owns what it wrote while shared)."""
        if not isinstance(written, str):
            return False
        scope, _ = owner(written)
        return scope == self.tenant or (scope is None and self.name is None)

    def foreign(self, written: Any) -> bool:
        """Whether an ``API_ID`` carries another tenant's scope. What the store knows is
        the tenant's own unless so (an unscoped one is its own from before it shared)."""
        scope = owner(written)[0] if isinstance(written, str) else None
        return scope is not None and scope != self.tenant
