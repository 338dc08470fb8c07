"""Fingerprints: how a sink tells, without asking the target, that content changed."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def fingerprint(content: Any) -> str:
    """A stable digest of JSON-able ``content``: equal content, equal fingerprint, whatever
    the order of keys. Lists keep their order; sort them first where order is no change."""
    canonical = json.dumps(
        content, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]
