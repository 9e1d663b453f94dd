"""The client's settings. Declared once, in :mod:`customer_sync.config`; re-exported here."""

from __future__ import annotations

from ..config import DEFAULT_USER_AGENT, ClientSettings

__all__ = ["DEFAULT_USER_AGENT", "ClientSettings"]
