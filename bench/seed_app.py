"""The seed design, for bench/seed.py to measure against: the FastAPI service this one
replaces, written here from its description (not from its code): FastAPI on uvicorn, a new
SQLite connection for every call (default settings: rollback journal, synchronous=FULL),
pydantic bodies, and one broadcast loop that awaits each WebSocket's send in turn.

Only what the agent workload calls: POST /api/jobs/ (creating the run when new),
POST /api/events/, PATCH /api/jobs/status, GET /api/runs/ (for the start-up probe), and
/ws/events/.

    python bench/seed_app.py DB_PATH PORT     # serves on 127.0.0.1:PORT
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import uuid
from typing import Any

import uvicorn
from fastapi import FastAPI, HTTPException, WebSocket, WebSocketDisconnect
from pydantic import BaseModel

SCHEMA = """
CREATE TABLE IF NOT EXISTS armada_runs (run_uuid TEXT PRIMARY KEY, run_datetime TEXT);
CREATE TABLE IF NOT EXISTS armada_jobs (job_uuid TEXT PRIMARY KEY, run_uuid TEXT,
    job_datetime TEXT, job_associated_agent TEXT, job_status TEXT);
CREATE TABLE IF NOT EXISTS armada_events (event_uuid TEXT PRIMARY KEY, event_content TEXT,
    job_uuid TEXT, event_datetime TEXT, event_status TEXT);
CREATE INDEX IF NOT EXISTS ix_jobs_run ON armada_jobs (run_uuid);
CREATE INDEX IF NOT EXISTS ix_events_job ON armada_events (job_uuid);
"""


class JobIn(BaseModel):
    run_uuid: str
    job_uuid: str | None = None
    job_datetime: str
    job_associated_agent: str = "Unknown"
    job_status: str = "Running"


class EventIn(BaseModel):
    event_uuid: str | None = None
    event_content: str
    job_uuid: str
    event_datetime: str
    event_status: str = "Running"


class JobStatusIn(BaseModel):
    job_uuid: str
    job_status: str


def build_app(db_path: str) -> FastAPI:
    app = FastAPI()
    clients: list[WebSocket] = []

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(db_path)

    with connect() as connection:
        connection.executescript(SCHEMA)

    async def broadcast(message_type: str, data: dict[str, Any]) -> None:
        text = json.dumps({"type": message_type, "data": data})
        for client in list(clients):
            try:
                await client.send_text(text)
            except Exception:
                clients.remove(client)

    @app.get("/api/runs/")
    async def list_runs() -> dict[str, Any]:
        connection = connect()
        try:
            rows = connection.execute(
                "SELECT run_uuid, run_datetime FROM armada_runs ORDER BY run_datetime DESC "
                "LIMIT 10").fetchall()
            total = connection.execute("SELECT COUNT(*) FROM armada_runs").fetchone()[0]
        finally:
            connection.close()
        return {"runs": [{"run_uuid": uuid_, "run_datetime": at} for uuid_, at in rows],
                "total": total, "page": 1, "page_size": 10}

    @app.post("/api/jobs/", status_code=201)
    async def create_job(body: JobIn) -> dict[str, Any]:
        job = body.model_dump()
        job["job_uuid"] = job["job_uuid"] or str(uuid.uuid4())
        connection = connect()
        try:
            new_run = connection.execute(
                "SELECT 1 FROM armada_runs WHERE run_uuid = ?", (job["run_uuid"],)
            ).fetchone() is None
            if new_run:
                connection.execute("INSERT INTO armada_runs VALUES (?, ?)",
                                   (job["run_uuid"], job["job_datetime"]))
            connection.execute(
                "INSERT INTO armada_jobs VALUES (?, ?, ?, ?, ?)",
                (job["job_uuid"], job["run_uuid"], job["job_datetime"],
                 job["job_associated_agent"], job["job_status"]))
            connection.commit()
        finally:
            connection.close()
        if new_run:
            await broadcast("new_run", {"run_uuid": job["run_uuid"],
                                        "run_datetime": job["job_datetime"] + "Z"})
        job["job_datetime"] += "Z"
        await broadcast("new_job", job)
        return job

    @app.post("/api/events/", status_code=201)
    async def create_event(body: EventIn) -> dict[str, Any]:
        event = body.model_dump()
        event["event_uuid"] = event["event_uuid"] or str(uuid.uuid4())
        connection = connect()
        try:
            if connection.execute("SELECT 1 FROM armada_jobs WHERE job_uuid = ?",
                                  (event["job_uuid"],)).fetchone() is None:
                raise HTTPException(404, f"job {event['job_uuid']} not found")
            connection.execute(
                "INSERT INTO armada_events VALUES (?, ?, ?, ?, ?)",
                (event["event_uuid"], event["event_content"], event["job_uuid"],
                 event["event_datetime"], event["event_status"]))
            connection.commit()
        finally:
            connection.close()
        event["event_datetime"] += "Z"
        await broadcast("new_event", event)
        return event

    @app.patch("/api/jobs/status")
    async def update_job_status(body: JobStatusIn) -> dict[str, bool]:
        connection = connect()
        try:
            changed = connection.execute(
                "UPDATE armada_jobs SET job_status = ? WHERE job_uuid = ?",
                (body.job_status, body.job_uuid)).rowcount
            connection.commit()
        finally:
            connection.close()
        if not changed:
            raise HTTPException(404, f"job {body.job_uuid} not found")
        await broadcast("update_job_status", body.model_dump())
        return {"ok": True}

    @app.websocket("/ws/events/")
    async def events(websocket: WebSocket) -> None:
        await websocket.accept()
        clients.append(websocket)
        try:
            while True:
                await websocket.receive_text()
        except WebSocketDisconnect:
            pass
        finally:
            if websocket in clients:
                clients.remove(websocket)

    return app


def main(db_path: str, port: int) -> None:
    # uvicorn's defaults (uvloop and httptools where installed, as `uvicorn main:app` runs),
    # or asyncio's loop when the service measured beside it runs on that.
    loop = "asyncio" if os.environ.get("ARMADA_EVENT_LOOP", "").lower() == "asyncio" else "auto"
    uvicorn.run(build_app(db_path), host="127.0.0.1", port=port, log_level="warning",
                access_log=False, loop=loop)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
