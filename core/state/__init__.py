"""The state store: what each sink wrote for each external id, per tenant, and the run
reports. One schema, on SQLite (embedded, the default) or PostgreSQL; see ``open_state``.
"""

from core.state.store import StateStore, Synced, TenantState, open_state
from core.state.urls import StateUnusable

__all__ = ["StateStore", "StateUnusable", "Synced", "TenantState", "open_state"]
