"""Group commit: concurrent writes share one transaction, each in its own savepoint.

Through the running app over real HTTP and a real SQLite file. The writer thread is held
at its first batch until every other request has queued, so the rest commit together.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from helpers import RUN, event_body, job_body, next_message, no_message

from armada import const
from armada.changes import Change
from armada.config import Config, SqliteSettings
from armada.errors import NotFound, StoreUnavailable
from armada.keys import store_key
from armada.store import Store
from armada.store.dialects import SqliteDialect
from armada.store.queries import COMMENT

HOLD_TIMEOUT = 5.0
POLL_SECONDS = 0.01
KNOWN_JOBS = 4


@pytest.fixture
def database(sqlite_path: Path) -> SqliteSettings:
    return SqliteSettings(path=sqlite_path)


def rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


class BatchRecorder:
    """Wraps the writer's batch runner: records batch sizes, holds the first batch (of
    requests' writes: background ones pass)."""

    def __init__(self, store: Store) -> None:
        writer = self.writer = store._writer
        self.sizes: list[int] = []
        self.failed: list[int] = []  # of each batch, the writes that failed
        self.handed_over = 0  # requests' writes (background ones aside)
        self.release = threading.Event()
        self._run_batch = writer._run_batch
        self._hand_over = writer._hand_over
        writer._run_batch = self._hold_first  # type: ignore[method-assign]
        writer._hand_over = self._count_hand_over  # type: ignore[method-assign]

    def _count_hand_over(self) -> None:
        self.handed_over += sum(not write.background for write in self.writer._gathered)
        self._hand_over()

    def _hold_first(self, batch: list[Any]) -> None:
        if all(write.background for write in batch):
            self._run_batch(batch)  # the search index's chunk: a transaction of its own
            return
        self.sizes.append(len(batch))
        if len(self.sizes) == 1:
            self.release.wait(HOLD_TIMEOUT)
        self._run_batch(batch)
        self.failed.append(sum(write.error is not None for write in batch))

    async def release_when_queued(self, total: int) -> None:
        """Let the writer go once all `total` writes have been handed to it."""
        for _ in range(int(HOLD_TIMEOUT / POLL_SECONDS)):
            if self.handed_over >= total:
                break
            await asyncio.sleep(POLL_SECONDS)
        self.release.set()


async def gather_held(client: TestClient, requests: list[Callable[[], Awaitable[Any]]]
                      ) -> tuple[list[Any], list[int], list[int]]:
    """Send all `requests` at once; they commit in (almost) one batch. Answers, sizes and
    failures of each batch."""
    recorder = BatchRecorder(client.app[store_key])
    tasks = [asyncio.create_task(request()) for request in requests]
    await recorder.release_when_queued(len(requests))
    return await asyncio.gather(*tasks), recorder.sizes, recorder.failed


async def gather_queued(client: TestClient, requests: list[Callable[[], Awaitable[Any]]]
                        ) -> tuple[list[Any], list[int], list[int]]:
    """Send all `requests` while the writer holds a write sent before them (run-1's create
    again: a write that announces nothing), so that every one of them waits in its queue when
    it goes on: they commit in one batch, whatever the host's timing. Answers, and the sizes
    and failures of each batch after the held one."""
    recorder = BatchRecorder(client.app[store_key])
    held = asyncio.create_task(client.post("/api/runs/", json=RUN))
    for _ in range(int(HOLD_TIMEOUT / POLL_SECONDS)):
        if recorder.sizes:
            break
        await asyncio.sleep(POLL_SECONDS)
    tasks = [asyncio.create_task(request()) for request in requests]
    await recorder.release_when_queued(len(requests) + 1)
    answers = await asyncio.gather(*tasks)
    assert (await held).status == 200
    return answers, recorder.sizes[1:], recorder.failed[1:]


async def known_jobs_and_a_taken_event(client: TestClient) -> None:
    """run-1, its jobs job-0 ... job-{KNOWN_JOBS - 1}, and event "taken" of job-0."""
    assert (await client.post("/api/runs/", json=RUN)).status == 201
    for n in range(KNOWN_JOBS):
        assert (await client.post("/api/jobs/", json=job_body(f"job-{n}"))).status == 201
    assert (await client.post("/api/events/", json=event_body("taken", "job-0"))).status == 201


async def test_failing_writes_in_a_batch_fail_alone_and_successes_broadcast_in_commit_order(
        client: TestClient, subscribe: Any, sqlite_path: Path):
    await known_jobs_and_a_taken_event(client)
    ws = await subscribe()

    def post(path: str, body: dict[str, Any]) -> Callable[[], Awaitable[Any]]:
        return lambda: client.post(path, json=body)

    def patch(path: str, body: dict[str, Any]) -> Callable[[], Awaitable[Any]]:
        return lambda: client.patch(path, json=body)

    expected: list[tuple[Callable[[], Awaitable[Any]], int]] = []
    for n in range(24):
        expected.append((post("/api/events/", event_body(f"ok-{n}", f"job-{n % KNOWN_JOBS}")), 201))
        if n % 4 == 0:
            expected.append((post("/api/events/", event_body(f"lost-{n}", "no-such-job")), 404))
            conflicting = event_body("taken", "job-0", event_content=f"other {n}")
            expected.append((post("/api/events/", conflicting), 409))
            expected.append((patch("/api/jobs/status",
                                   {"job_uuid": "no-such-job", "job_status": "Failed"}), 404))
            expected.append((post("/api/jobs/", job_body(f"new-job-{n}", "run-1")), 201))
        if n % 8 == 0:
            expected.append((patch("/api/jobs/status",
                                   {"job_uuid": f"job-{n % KNOWN_JOBS}", "job_status": "Success"}),
                             200))
            expected.append((lambda: client.delete("/api/runs/no-such-run"), 404))

    responses, sizes, failed = await gather_held(client, [request for request, _ in expected])

    assert [response.status for response in responses] == [status for _, status in expected]
    # At most two transactions for 54 writes (the writer may take those that came first
    # before the rest queue: [1, 53], [21, 33] and [54] seen), and in one of them failures
    # shared the transaction with successes.
    assert len(sizes) <= 2 and sum(sizes) == len(expected), sizes
    assert any(0 < failures < size for size, failures in zip(sizes, failed, strict=True)), \
        (sizes, failed)
    assert sum(status >= 400 for _, status in expected) == 21
    for response in responses:
        if response.status >= 400:
            assert (await response.json())["error"]
    stored_events = [uuid for (uuid,) in rows(
        sqlite_path, "SELECT event_uuid FROM armada_events ORDER BY rowid")]
    stored_jobs = [uuid for (uuid,) in rows(
        sqlite_path, "SELECT job_uuid FROM armada_jobs WHERE job_uuid LIKE 'new-%' ORDER BY rowid")]
    assert stored_events[0] == "taken" and sorted(stored_events[1:]) == \
        sorted(f"ok-{n}" for n in range(24))
    assert rows(sqlite_path, "SELECT event_content FROM armada_events WHERE event_uuid = 'taken'"
                ) == [("Page loaded",)]

    messages = [await next_message(ws) for _ in range(24 + 6 + 3)]
    await no_message(ws)
    assert [m["data"]["event_uuid"] for m in messages if m["type"] == "new_event"] == \
        stored_events[1:]
    assert [m["data"]["job_uuid"] for m in messages if m["type"] == "new_job"] == stored_jobs
    assert sum(m["type"] == "update_job_status" for m in messages) == 3


async def test_a_cascade_delete_that_fails_in_a_batch_leaves_its_run_while_others_commit(
        client: TestClient, subscribe: Any, sqlite_path: Path):
    for run_uuid in ("protected", "doomed"):
        run = {"run_uuid": run_uuid, "run_datetime": "2026-02-24T10:30:00.000"}
        assert (await client.post("/api/runs/", json=run)).status == 201
        assert (await client.post("/api/jobs/", json=job_body(f"{run_uuid}-job", run_uuid))
                ).status == 201
        body = event_body(f"{run_uuid}-event", f"{run_uuid}-job")
        assert (await client.post("/api/events/", json=body)).status == 201
    # The run row goes last, after its events and jobs: refusing it proves the savepoint undid them.
    with sqlite3.connect(sqlite_path) as db:
        db.execute("CREATE TRIGGER protect_run BEFORE DELETE ON armada_runs "
                   "WHEN OLD.run_uuid = 'protected' BEGIN SELECT RAISE(ABORT, 'protected'); END")
    ws = await subscribe()

    responses, _, _ = await gather_held(client, [
        lambda: client.post("/api/events/", json=event_body("before", "protected-job")),
        lambda: client.delete("/api/runs/protected"),
        lambda: client.delete("/api/runs/doomed"),
        lambda: client.post("/api/events/", json=event_body("after", "protected-job")),
    ])

    assert [response.status for response in responses] == [201, 500, 200, 201]
    assert rows(sqlite_path, "SELECT run_uuid FROM armada_runs") == [("protected",)]
    assert rows(sqlite_path, "SELECT job_uuid FROM armada_jobs") == [("protected-job",)]
    assert sorted(rows(sqlite_path, "SELECT event_uuid FROM armada_events")) == \
        [("after",), ("before",), ("protected-event",)]
    messages = [await next_message(ws) for _ in range(3)]
    await no_message(ws)
    assert sorted(m["type"] for m in messages) == ["delete_run", "new_event", "new_event"]


async def test_a_refused_batch_of_events_in_a_group_commit_writes_nothing_and_others_commit(
        client: TestClient, subscribe: Any, sqlite_path: Path):
    await known_jobs_and_a_taken_event(client)
    ws = await subscribe()

    def batch(name: str, job_uuid: str, last: dict[str, Any] | None = None
              ) -> Callable[[], Awaitable[Any]]:
        events = [event_body(f"{name}-{n}", job_uuid) for n in range(5)]
        return lambda: client.post("/api/events/batch", json={"events": events + (
            [last] if last is not None else [])})

    conflicting = event_body("taken", "job-0", event_content="other")
    expected = [
        (batch("a", "job-1"), 201),
        (batch("refused", "job-2", conflicting), 409),  # its last event only: after 5 inserts
        (lambda: client.post("/api/events/", json=event_body("single", "job-3")), 201),
        (batch("unknown", "no-such-job"), 404),
        (batch("d", "job-3"), 201),
        (lambda: client.patch("/api/jobs/status", json={"job_uuid": "job-2",
                                                         "job_status": "Success"}), 200),
    ]

    responses, sizes, _ = await gather_queued(client, [request for request, _ in expected])

    assert [response.status for response in responses] == [status for _, status in expected]
    assert "events[5]" in (await responses[1].json())["detail"]
    # All in one group commit, which the refused batch took back; the others ran again.
    assert sizes[0] == len(expected), sizes
    stored = [uuid for (uuid,) in rows(
        sqlite_path, "SELECT event_uuid FROM armada_events ORDER BY rowid")]
    assert stored[0] == "taken"
    assert sorted(stored[1:]) == sorted(
        [f"a-{n}" for n in range(5)] + ["single"] + [f"d-{n}" for n in range(5)])
    assert rows(sqlite_path, "SELECT event_content FROM armada_events WHERE event_uuid = 'taken'"
                ) == [("Page loaded",)]
    assert rows(sqlite_path, "SELECT job_status FROM armada_jobs WHERE job_uuid = 'job-2'"
                ) == [("Success",)]
    messages = [await next_message(ws) for _ in range(11 + 1)]
    await no_message(ws)
    assert [m["data"]["event_uuid"] for m in messages if m["type"] == "new_event"] == stored[1:]
    assert [m["type"] for m in messages].count("update_job_status") == 1


async def test_the_wait_for_the_write_lock_is_set_once_not_before_every_commit(
        client: TestClient):
    writer = client.app[store_key]._writer
    run_batch = writer._run_batch
    statements: list[str] = []

    def traced(batch: list[Any]) -> None:
        connection, _ = writer._store.connection_and_transaction()
        connection.set_trace_callback(statements.append)
        try:
            run_batch(batch)
        finally:
            connection.set_trace_callback(None)

    writer._run_batch = traced  # type: ignore[method-assign]
    for n in range(10):
        run = {**RUN, "run_uuid": f"run-{n}"}
        assert (await client.post("/api/runs/", json=run)).status == 201

    assert sum(statement.startswith("BEGIN IMMEDIATE") for statement in statements) == 10
    assert sum(statement.startswith("PRAGMA busy_timeout") for statement in statements) <= 1


def statement_kinds(statements: list[str]) -> list[str]:
    """Each statement's first word (BEGIN IMMEDIATE, ROLLBACK TO: two), its file's comments
    aside; what SQLite reports for a trigger's steps (a line, or the statement again) left
    out."""
    kinds = []
    for previous, statement in zip(["", *statements], statements, strict=False):
        if statement == previous or (statement.startswith("-- ") and "\n" not in statement):
            continue
        words = COMMENT.sub("", statement).split()
        kinds.append(" ".join(words[:2]) if words[0] in ("BEGIN", "ROLLBACK") and
                     words[1:2] in (["IMMEDIATE"], ["TO"]) else words[0])
    return kinds


def trace_transactions(client: TestClient) -> list[list[str]]:
    """From now on, the statement_kinds of each transaction of requests' writes."""
    writer = client.app[store_key]._writer
    run_batch = writer._run_batch
    transactions: list[list[str]] = []

    def traced(batch: list[Any]) -> None:
        if all(write.background for write in batch):
            run_batch(batch)
            return
        connection, _ = writer._store.connection_and_transaction()
        statements: list[str] = []
        connection.set_trace_callback(statements.append)
        try:
            run_batch(batch)
        finally:
            connection.set_trace_callback(None)
            transactions.append(statement_kinds(statements))

    writer._run_batch = traced  # type: ignore[method-assign]
    return transactions


async def test_an_agents_writes_one_after_another_send_their_statements_and_a_commit(
        client: TestClient):
    assert (await client.post("/api/jobs/", json=job_body("job-1"))).status == 201
    transactions = trace_transactions(client)

    assert (await client.post("/api/events/", json=event_body("event-1"))).status == 201
    assert (await client.post("/api/events/", json=event_body("event-2", "no-such-job"))
            ).status == 404
    assert (await client.patch("/api/jobs/status", json={"job_uuid": "job-1",
                                                          "job_status": "Success"})).status == 200

    assert transactions == [
        ["BEGIN IMMEDIATE", "SELECT", "INSERT", "COMMIT"],
        ["BEGIN IMMEDIATE", "SELECT", "SELECT", "COMMIT"],
        ["BEGIN IMMEDIATE", "SELECT", "SELECT", "UPDATE", "COMMIT"],
    ]


async def test_a_write_alone_in_its_commit_runs_without_a_savepoint_and_fails_alone(
        client: TestClient, sqlite_path: Path):
    assert (await client.post("/api/jobs/", json=job_body("job-1"))).status == 201
    with sqlite3.connect(sqlite_path) as db:
        db.execute("CREATE TRIGGER refuse_job BEFORE INSERT ON armada_jobs "
                   "WHEN NEW.job_uuid = 'refused' BEGIN SELECT RAISE(ABORT, 'refused'); END")
    transactions = trace_transactions(client)
    created = await client.post("/api/jobs/", json=job_body("job-2", "run-2"))
    # Its run is inserted before the job is found to differ: the rollback takes it back.
    conflicting = await client.post("/api/jobs/", json=job_body(
        "job-1", "run-3", job_associated_agent="another agent"))
    failed = await client.post("/api/jobs/", json=job_body("refused", "run-4"))
    after = await client.post("/api/jobs/", json=job_body("job-3", "run-5"))

    assert [created.status, conflicting.status, failed.status, after.status] == \
        [201, 409, 500, 201]
    assert rows(sqlite_path, "SELECT run_uuid FROM armada_runs ORDER BY rowid") == \
        [("run-1",), ("run-2",), ("run-5",)]
    assert rows(sqlite_path, "SELECT job_uuid FROM armada_jobs ORDER BY rowid") == \
        [("job-1",), ("job-2",), ("job-3",)]
    assert transactions == [
        ["BEGIN IMMEDIATE", "INSERT", "INSERT", "COMMIT"],
        ["BEGIN IMMEDIATE", "INSERT", "INSERT", "SELECT", "ROLLBACK"],
        ["BEGIN IMMEDIATE", "INSERT", "INSERT", "ROLLBACK"],
        ["BEGIN IMMEDIATE", "INSERT", "INSERT", "COMMIT"],
    ]


async def test_simultaneous_posts_of_one_run_in_one_batch_create_it_once(
        client: TestClient, subscribe: Any, sqlite_path: Path):
    ws = await subscribe()

    responses, _, _ = await gather_held(
        client, [lambda: client.post("/api/runs/", json=RUN) for _ in range(10)])

    assert sorted(response.status for response in responses) == [200] * 9 + [201]
    assert rows(sqlite_path, "SELECT run_uuid FROM armada_runs") == [("run-1",)]
    assert (await next_message(ws))["type"] == "new_run"
    await no_message(ws)


async def test_close_commits_and_answers_every_queued_write(sqlite_path: Path):
    store = Store(Config(database=SqliteSettings(path=sqlite_path)))
    await store.open()
    runs = [{"run_uuid": f"run-{n}", "run_datetime": datetime(2026, 2, 24, 10, n)}
            for n in range(50)]
    writes = [asyncio.ensure_future(store.create_run(run)) for run in runs]
    await asyncio.sleep(0)

    await store.close()
    await store.close()

    assert [write.result()[:2] for write in writes] == [(run, True) for run in runs]
    assert rows(sqlite_path, "SELECT COUNT(*) FROM armada_runs") == [(50,)]


class OrderSink:
    """Notes, in order, each committed write's runs and each COMMIT of unknown outcome;
    raises, once noted, for `failing_run`."""

    def __init__(self, failing_run: str | None = None) -> None:
        self.seen: list[str] = []
        self.failing_run = failing_run

    def committed(self, changes: Sequence[Change]) -> None:
        self.seen.extend(f"{change.type} {change.run_uuid}" for change in changes)
        if any(change.run_uuid == self.failing_run for change in changes):
            raise RuntimeError("a failing sink call stops no other")

    def commit_unknown(self) -> None:
        self.seen.append("commit_unknown")


async def test_the_sink_gets_changes_in_commit_order_even_for_callers_that_gave_up(
        sqlite_path: Path):
    sink = OrderSink(failing_run="run-3")
    store = Store(Config(database=SqliteSettings(path=sqlite_path)), sink=sink)
    await store.open()
    recorder = BatchRecorder(store)
    runs = [run_record(n) for n in range(8)]
    writes = [asyncio.ensure_future(store.create_run(run)) for run in runs]
    refused = asyncio.ensure_future(store.update_job_status("no-such-job", "Failed"))
    for _ in range(int(HOLD_TIMEOUT / POLL_SECONDS)):
        if recorder.sizes:  # the writer holds the batch
            break
        await asyncio.sleep(POLL_SECONDS)
    for write in writes[2:6]:
        write.cancel()  # as the request timeout cancels its handler
    await asyncio.sleep(0)
    recorder.release.set()
    await store.flush()

    assert sink.seen == [f"new_run {run['run_uuid']}" for run in runs]
    assert [f"new_run {uuid}" for (uuid,) in rows(sqlite_path, "SELECT run_uuid FROM "
                                                  "armada_runs ORDER BY rowid")] == sink.seen
    assert all(write.cancelled() for write in writes[2:6])
    assert [write.result()[1] for write in writes[:2] + writes[6:]] == [True] * 4
    with pytest.raises(NotFound):
        await refused
    await store.close()


class CommitThenCut(SqliteDialect):
    """SQLite whose next write COMMIT, once armed, commits and then fails as a connection
    that broke before the answer came back."""

    def __init__(self, settings: SqliteSettings, timeout: float) -> None:
        super().__init__(settings, timeout)
        self.armed = False

    def commit(self, connection: sqlite3.Connection) -> None:
        super().commit(connection)
        if self.armed and threading.current_thread().name == "armada-db-writer":
            self.armed = False
            raise ConnectionResetError(104, "Connection reset by peer")


async def test_a_commit_of_unknown_outcome_tells_the_sink_and_hands_over_none_of_its_changes(
        sqlite_path: Path):
    sink = OrderSink()
    settings = SqliteSettings(path=sqlite_path)
    dialect = CommitThenCut(settings, timeout=2.0)
    store = Store(Config(database=settings), dialect, sink=sink)
    await store.open()
    await store.create_run(run_record(0))
    dialect.armed = True

    with pytest.raises(StoreUnavailable):
        await store.create_run(run_record(1))  # committed, but nobody can know
    await store.create_run(run_record(2))

    assert sink.seen == ["new_run run-0", "commit_unknown", "new_run run-2"]
    assert rows(sqlite_path, "SELECT COUNT(*) FROM armada_runs") == [(3,)]
    await store.close()


def traced_statements(connection: sqlite3.Connection, run: Callable[[], Any]) -> list[str]:
    statements: list[str] = []
    def note(statement: str) -> None:
        # SQLite reports each statement a trigger runs as one line "-- <sql>": part of the
        # statement that fired it (the search index's triggers write its shadow tables).
        if not (statement.startswith("-- ") and "\n" not in statement):
            statements.append(statement)

    connection.set_trace_callback(note)
    try:
        run()
    finally:
        connection.set_trace_callback(None)
    return statements


def changing(statements: list[str]) -> set[str]:
    """The statements that change data (SQLite reports a statement again for each step of
    a trigger it fires: those repeats are one statement), their SQL files' comments aside."""
    return {s for s in statements if (COMMENT.sub("", s).split() or [""])[0].upper() in
            {"INSERT", "UPDATE", "DELETE", "REPLACE"}}


async def test_writes_run_without_a_savepoint_change_the_database_in_their_last_statement_only(
        sqlite_path: Path):
    from armada.errors import ApiError
    from armada.store import operations
    from armada.store.transaction import Transaction

    store = Store(Config(database=SqliteSettings(path=sqlite_path)))
    await store.open()
    await store.create_job({"job_uuid": "job-1", "run_uuid": "run-1",
                            "job_datetime": datetime(2026, 2, 24), "job_associated_agent": "a",
                            "job_status": "Running"})
    await store.close()
    event = {"event_uuid": "event-1", "event_content": "x", "job_uuid": "job-1",
             "event_datetime": datetime(2026, 2, 24), "event_status": "Running"}
    cases = {
        operations.create_run: [({"run_uuid": "run-2", "run_datetime": datetime(2026, 1, 1)},),
                                ({"run_uuid": "run-2", "run_datetime": datetime(2026, 1, 1)},)],
        operations.create_event: [(event,), (event,), ({**event, "event_content": "other"},),
                                  ({**event, "event_uuid": "event-2", "job_uuid": "none"},)],
        operations.update_job_status: [("job-1", "Failed"), ("no-such-job", "Failed")],
        operations.update_event_status: [("event-1", "Failed"), ("no-such-event", "Failed")],
    }
    assert set(cases) == operations.ONE_STATEMENT_WRITES
    connection = sqlite3.connect(sqlite_path, isolation_level=None)
    queries = Store(Config(database=SqliteSettings(path=sqlite_path)))._queries
    tx = Transaction(connection, store.dialect, queries, {})
    outcomes = []
    for operation, calls in cases.items():
        for args in calls:
            changes_before = connection.total_changes
            failed: list[ApiError] = []

            def run(operation: Any = operation, args: Any = args, failed: Any = failed) -> None:
                try:
                    operation(tx, *args)
                except ApiError as error:
                    failed.append(error)

            statements = traced_statements(connection, run)
            assert len(changing(statements)) <= 1, (operation.__name__, statements)
            if connection.total_changes != changes_before:  # nothing can fail after it
                assert changing([statements[-1]]), (operation.__name__, statements)
            if failed:  # an ApiError only when the one statement changed nothing
                assert connection.total_changes == changes_before, operation.__name__
            outcomes.append((operation.__name__, bool(failed)))
    connection.close()
    # Every path was taken: a success for each, a refusal for each that can refuse (a
    # repeated run is no error: it answers the stored run).
    assert {name for name, failed in outcomes if not failed} == \
        {operation.__name__ for operation in cases}
    assert {name for name, failed in outcomes if failed} == \
        {operation.__name__ for operation in cases} - {"create_run"}


async def test_an_event_of_a_lost_job_changes_the_job_first_only_when_the_insert_follows(
        sqlite_path: Path):
    from armada.errors import ApiError
    from armada.store import operations
    from armada.store.transaction import Transaction

    store = Store(Config(database=SqliteSettings(path=sqlite_path)))
    await store.open()
    await store.create_job({"job_uuid": "job-1", "run_uuid": "run-1",
                            "job_datetime": datetime(2026, 2, 24), "job_associated_agent": "a",
                            "job_status": "Lost"})
    await store.close()
    event = {"event_uuid": "event-1", "event_content": "x", "job_uuid": "job-1",
             "event_datetime": datetime(2026, 2, 24), "event_status": "Running"}
    connection = sqlite3.connect(sqlite_path, isolation_level=None)
    tx = Transaction(connection, store.dialect, store._queries, {})

    def lose_job() -> None:
        connection.execute("UPDATE armada_jobs SET job_status = 'Lost'")

    new = traced_statements(connection, lambda: operations.create_event(tx, event))
    # A statement is reported again for each step of a trigger it fires: one statement.
    writes = [COMMENT.sub("", s).split()[0] for s in dict.fromkeys(new) if changing([s])]
    assert writes == ["UPDATE", "INSERT"]
    assert changing([new[-1]]), new
    assert rows(sqlite_path, "SELECT job_status FROM armada_jobs") == [("Running",)]

    lose_job()
    before = connection.total_changes
    repeat = traced_statements(connection, lambda: operations.create_event(tx, event))
    assert connection.total_changes == before, repeat  # an old report revives nothing
    with pytest.raises(ApiError):
        operations.create_event(tx, {**event, "event_content": "other"})
    assert connection.total_changes == before
    assert rows(sqlite_path, "SELECT job_status FROM armada_jobs") == [("Lost",)]
    connection.close()


async def test_a_write_that_ends_the_whole_transaction_is_refused_alone(
        client: TestClient, subscribe: Any, sqlite_path: Path):
    assert (await client.post("/api/jobs/", json=job_body("job-1"))).status == 201
    with sqlite3.connect(sqlite_path) as db:  # as an I/O error would: the transaction is gone
        db.execute("CREATE TRIGGER doom BEFORE INSERT ON armada_events "
                   "WHEN NEW.event_content = 'doom' BEGIN SELECT RAISE(ROLLBACK, 'doomed'); END")
    ws = await subscribe()
    store = client.app[store_key]
    recorder = BatchRecorder(store)
    # The writer holds an empty write while the three queue one by one, in this order:
    # concurrent requests would reach the store in any order.
    held = asyncio.ensure_future(store.ping_writes())
    await until(lambda: recorder.sizes)
    requests = []
    for body in (event_body("before", "job-1"),
                 event_body("doomed", "job-1", event_content="doom"),
                 event_body("after", "job-1")):
        requests.append(asyncio.ensure_future(client.post("/api/events/", json=body)))
        await until(lambda: recorder.handed_over == len(requests) + 1)
    recorder.release.set()
    responses = await asyncio.gather(*requests)
    await held

    assert [response.status for response in responses] == [201, 500, 201]
    # Ran together, then the two again without the one that ended their transaction.
    assert recorder.sizes[1:] == [3, 2]
    assert rows(sqlite_path, "SELECT event_uuid FROM armada_events ORDER BY rowid") == \
        [("before",), ("after",)]
    messages = [await next_message(ws) for _ in range(2)]
    await no_message(ws)
    assert [m["data"]["event_uuid"] for m in messages] == ["before", "after"]


def run_record(number: int) -> dict[str, Any]:
    return {"run_uuid": f"run-{number}", "run_datetime": datetime(2026, 2, 24, 10, number)}


async def test_under_load_writes_arriving_soon_after_join_the_same_commit(
        sqlite_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(const, "COMMIT_LINGER_SECONDS", 2.0)
    monkeypatch.setattr(const, "COMMIT_LINGER_GAP_SECONDS", 1.0)
    store = Store(Config(database=SqliteSettings(path=sqlite_path)))
    await store.open()
    recorder = BatchRecorder(store)
    recorder.release.set()
    first = [asyncio.ensure_future(store.create_run(run_record(n))) for n in range(4)]
    await asyncio.sleep(0.2)  # the writer has the four and waits for more
    later = [asyncio.ensure_future(store.create_run(run_record(n))) for n in range(4, 7)]
    await asyncio.gather(*first, *later)

    assert recorder.sizes == [7]
    await store.close()


async def test_a_lone_write_does_not_wait_for_company(sqlite_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(const, "COMMIT_LINGER_SECONDS", 30.0)
    store = Store(Config(database=SqliteSettings(path=sqlite_path)))
    await store.open()
    async with asyncio.timeout(10):
        for n in range(3):  # one after another: each commits alone, at once
            assert (await store.create_run(run_record(n)))[:2] == (run_record(n), True)
    await store.close()


async def until(condition: Callable[[], Any], within: float = HOLD_TIMEOUT) -> None:
    for _ in range(int(within / POLL_SECONDS)):
        if condition():
            return
        await asyncio.sleep(POLL_SECONDS)
    raise AssertionError("not reached in time")


async def test_requests_writes_queued_behind_background_work_commit_first_and_apart(
        sqlite_path: Path):
    store = Store(Config(database=SqliteSettings(path=sqlite_path)))
    await store.open()
    run_batch, transactions = store._writer._run_batch, []

    def record(batch: list[Any]) -> None:
        transactions.append([write.operation.__name__ for write in batch])
        run_batch(batch)

    store._writer._run_batch = record  # type: ignore[method-assign]
    locker = sqlite3.connect(sqlite_path, isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")
    try:
        # The writer waits for the lock with the first write; the others queue meanwhile,
        # the background one first.
        first = asyncio.ensure_future(store.create_run(run_record(0)))
        await until(lambda: transactions)
        background = asyncio.ensure_future(store.index_queued_events(500, 32_768))
        later = [asyncio.ensure_future(store.create_run(run_record(n))) for n in (1, 2)]
        await until(lambda: store.pending_writes == 4 and not store._writer._gathered)
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    await asyncio.gather(first, background, *later)
    await store.close()

    assert transactions == [["create_run"], ["create_run", "create_run"],
                            ["index_queued_events"]]
