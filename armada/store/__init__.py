"""Storage: named SQL queries run in one transaction each, on executor threads."""

from armada.store.store import Store

__all__ = ["Store"]
