"""The state store: what each sink wrote for each external id, per tenant, and the run
reports. One schema, on SQLite (embedded, the default) or PostgreSQL; see ``open_state``.

Plugins never import it: they see one tenant's part of it as ``core.TenantState``.
"""

from core.state.store import StateStore, TenantStore, open_state
from core.state.urls import StateUnusable
from core.synced import Synced

__all__ = ["StateStore", "StateUnusable", "Synced", "TenantStore", "open_state"]
