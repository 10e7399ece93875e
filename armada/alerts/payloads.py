"""What a delivery's body is, per kind of target: the generic webhook's JSON, or the text of
a Slack-compatible incoming webhook. Made from the stored payload at each attempt, the same
bytes every time (the payload and its occurrences no longer change once an attempt began)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from armada.alerts_settings import Target

TITLES = {
    "job_failed": "Job failed",
    "job_lost": "Job lost (its agent stopped reporting)",
    "run_finished": "Run finished",
    "run_failed": "Run finished with failures",
    "test": "Test message",
}
SLACK_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def body(target: Target, delivery_id: str, payload: dict[str, Any], occurrences: int,
         public_url: str | None) -> bytes:
    message = {"delivery_id": delivery_id, **payload, "occurrences": occurrences,
               "link": link(public_url, payload)}
    if target.kind == "slack":
        message = {"text": slack_text(message)}
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()


def link(public_url: str | None, payload: dict[str, Any]) -> str | None:
    """The live page opened on the run (and the job), as its own links are made."""
    if public_url is None:
        return None
    where = {"run": payload["run"]["run_uuid"]}
    if payload.get("job"):
        where["job"] = payload["job"]["job_uuid"]
    return f"{public_url}#{urlencode(where)}"


def slack_text(message: dict[str, Any]) -> str:
    """One message in Slack's mrkdwn: what happened, to what, the failure, the link."""
    run, job = message["run"], message.get("job")
    title = TITLES.get(message["event"], message["event"])
    if job:
        what = (f"job `{_escape(job['job_uuid'])}` on `{_escape(job['job_associated_agent'])}`"
                f" in run `{_escape(run['run_uuid'])}`")
        more = message["occurrences"] - 1
        if more > 0:
            what += f" (and {more} more of this run)"
    else:
        jobs = run["jobs"]
        counts = ", ".join(f"{count} {status}" for status, count in jobs.items()
                           if status != "total")
        what = f"run `{_escape(run['run_uuid'])}`: {run['run_status']}, " \
               f"{jobs['total']} jobs ({counts or 'none'})"
    lines = [f"*{title}*: {what}"]
    if message.get("failure_line"):
        lines.append(f"> {_escape(message['failure_line'])}")
    if message.get("link"):
        lines.append(f"<{message['link']}|Open in Armada>")
    return "\n".join(lines)


def _escape(text: Any) -> str:
    return str(text).translate(SLACK_ESCAPES)
