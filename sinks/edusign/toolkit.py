"""What every part of the Edusign sink shares for one run."""

from __future__ import annotations

from dataclasses import dataclass

from sinks.edusign import ids
from sinks.edusign.client import EdusignClient
from sinks.edusign.listings import Listings
from sinks.edusign.memory import Memory


@dataclass(frozen=True, slots=True)
class Toolkit:
    """The client, the tenant's scope in a shared school, what the state store remembers,
    and Edusign's bulk lists (read once a run): handed whole to each part of the sink."""

    client: EdusignClient
    scope: ids.Scope
    memory: Memory
    listings: Listings

    @classmethod
    def of(cls, client: EdusignClient, scope: ids.Scope) -> Toolkit:
        return cls(client, scope, Memory(), Listings(client, scope))
