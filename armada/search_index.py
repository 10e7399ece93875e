"""Keeping the search index in the background (cleanup_ctx).

A database that had events before the search index existed gets them indexed here first, a
chunk of SEARCH_INDEX_CHUNK rows per write transaction, with a pause between chunks, so
requests go on meanwhile. Until the index is complete, `q=` searches use LIKE
(store.operations.search_events_page). New events are queued by a trigger from the start
and indexed from the queue every SEARCH_QUEUE_SECONDS, SEARCH_QUEUE_CHUNK at a time;
searches take queued events as candidates meanwhile. Every chunk also holds no more text
than its Budget, and is background work for the store: it waits while agents' writes do.
On SQL Server there is no index: nothing to do.

While the database is down the store's log line says so (Availability); these tasks only
try again, without a line per try.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

from aiohttp import web

from armada import const
from armada.background import running
from armada.errors import StoreUnavailable
from armada.keys import store_key
from armada.store import Store

log = logging.getLogger(__name__)


class Budget:
    """The text a chunk may index: SEARCH_CHUNK_CHARACTERS, halved after a chunk slower than
    SEARCH_CHUNK_SECONDS (text of many distinct trigrams costs more per character), doubled
    back after one faster than half of it."""

    def __init__(self) -> None:
        self.characters = const.SEARCH_CHUNK_CHARACTERS

    def took(self, seconds: float) -> None:
        if seconds > const.SEARCH_CHUNK_SECONDS:
            self.characters = max(self.characters // 2, const.SEARCH_CHUNK_MIN_CHARACTERS)
        elif seconds < const.SEARCH_CHUNK_SECONDS / 2:
            self.characters = min(self.characters * 2, const.SEARCH_CHUNK_CHARACTERS)


async def search_index_task(app: web.Application) -> AsyncIterator[None]:
    async with running(keep_search_index(app[store_key]), "search-index"):
        yield


async def keep_search_index(store: Store) -> None:
    """Index the rows that predate the index, then the queue of new ones, as long as the
    service runs (SQLite: on SQL Server there is no index)."""
    budget = Budget()
    if await build_search_index(store, budget=budget):
        while True:
            await asyncio.sleep(const.SEARCH_QUEUE_SECONDS)
            await index_queue(store, budget=budget)


async def index_queue(store: Store, chunk_rows: int = const.SEARCH_QUEUE_CHUNK,
                      budget: Budget | None = None) -> None:
    """Index every queued event, a chunk per write transaction."""
    budget = budget or Budget()
    try:
        while (await store.search_index_state())["queued"]:
            budget.took(await store.index_queued_events(chunk_rows, budget.characters))
    except StoreUnavailable as error:
        log.debug("search index: database unavailable, queued events wait: %s",
                  error.detail)
    except Exception:
        # Searches find queued events all the same; the failure must not pass unseen.
        log.exception("search index: indexing queued events failed, next try in %gs",
                      const.SEARCH_QUEUE_SECONDS)


async def build_search_index(store: Store, chunk_rows: int = const.SEARCH_INDEX_CHUNK,
                             pause: float = const.SEARCH_INDEX_PAUSE_SECONDS,
                             budget: Budget | None = None) -> bool:
    """Index the rows that predate the index, until none is left; whether there is an
    index."""
    budget = budget or Budget()
    started, announced = time.monotonic(), False
    while True:
        try:
            state = await store.search_index_state()
            if not state["indexed"] or not state["pending_rows"]:
                if announced:
                    log.info("search index complete in %.1f s", time.monotonic() - started)
                return bool(state["indexed"])
            if not announced:
                log.info("search index: indexing %d existing events in the background; "
                         "q= searches use LIKE until it is done", state["pending_rows"])
                announced = True
            budget.took(await store.build_search_index_chunk(chunk_rows, budget.characters))
        except StoreUnavailable as error:
            log.debug("search index: database unavailable, next try in %gs: %s",
                      const.SEARCH_INDEX_RETRY_SECONDS, error.detail)
            await asyncio.sleep(const.SEARCH_INDEX_RETRY_SECONDS)
            continue
        except Exception:
            # Searches go on with LIKE meanwhile; the build must not end unseen.
            log.exception("search index: a chunk failed, next try in %gs",
                          const.SEARCH_INDEX_RETRY_SECONDS)
            await asyncio.sleep(const.SEARCH_INDEX_RETRY_SECONDS)
            continue
        await asyncio.sleep(pause)
