"""Specification of errors: every refusal is a 4xx in one JSON shape, and stores nothing."""

import base64
import json
import sqlite3
from urllib.parse import quote

import pytest
from helpers import DERANDOMIZE, RUN, event_body, job_body
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from armada.config import SqliteSettings
from armada.keys import config_key

WRITES = [
    ("POST", "/api/runs/"),
    ("POST", "/api/jobs/"),
    ("POST", "/api/events/"),
    ("PATCH", "/api/jobs/status"),
    ("PATCH", "/api/events/status"),
]
READS = ["/api/runs/", "/api/jobs/", "/api/events/"]
VALID_BODY = {
    "/api/runs/": RUN,
    "/api/jobs/": job_body(),
    "/api/events/": event_body(),
    "/api/jobs/status": {"job_uuid": "job-1", "job_status": "Success"},
    "/api/events/status": {"event_uuid": "event-1", "event_status": "Success"},
}
ID_FIELD = {
    "/api/runs/": "run_uuid",
    "/api/jobs/": "job_uuid",
    "/api/events/": "event_uuid",
    "/api/jobs/status": "job_uuid",
    "/api/events/status": "event_uuid",
}
# Bodies are declared JSON, as the platform's clients send them, whatever they hold.
JSON_BODY = {"Content-Type": "application/json"}
write_endpoints = pytest.mark.parametrize(
    "method, path", WRITES, ids=[path for _, path in WRITES])

MALFORMED_BODIES = {
    "empty": b"",
    "truncated": b'{"run_uuid": "run-1", ',
    "single quotes": b"{'run_uuid': 'run-1'}",
    "trailing comma": b'{"run_uuid": "run-1",}',
    "not json": b"run_uuid=run-1",
    "utf-8 bom": b'\xef\xbb\xbf{"run_uuid": "run-1"}',
    "latin-1 bytes": '{"run_uuid": "caf\u00e9"}'.encode("latin-1"),
    "lone continuation byte": b'{"run_uuid": "\x80"}',
    "utf-16": json.dumps(RUN).encode("utf-16"),
    "deeply nested arrays": b"[" * 100_000,
    "deeply nested objects": b'{"a":' * 50_000,
    "number too long": b'{"run_uuid": ' + b"9" * 5000 + b"}",
}
NON_OBJECTS = {"array": [RUN], "number": 42, "null": None, "string": "run-1", "true": True}


def assert_error_shape(status: int, content_type: str, body: dict) -> None:
    assert 400 <= status < 500, (status, body)
    assert content_type == "application/json"
    assert isinstance(body.get("error"), str) and body["error"]
    assert isinstance(body.get("detail"), str) and body["detail"]
    assert set(body) <= {"error", "detail", "fields", "stored", "sent"}
    if body["error"] == "validation_error":
        assert status == 422
        assert isinstance(body["fields"], dict) and body["fields"]


async def error_of(response) -> dict:
    body = await response.json()
    assert_error_shape(response.status, response.content_type, body)
    return body


async def stored_rows(client) -> dict[str, int]:
    """How many rows each table holds: in the SQLite file itself, else through the API."""
    settings = client.app[config_key].database
    if isinstance(settings, SqliteSettings):
        with sqlite3.connect(settings.path) as connection:
            return {table: connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                    for table in ("armada_runs", "armada_jobs", "armada_events")}
    runs = await (await client.get("/api/runs/")).json()
    jobs = await (await client.get("/api/jobs/?page_size=100")).json()
    events = 0
    for job in jobs["jobs"]:
        events += len(await (await client.get(f"/api/events/?job_uuid={job['job_uuid']}")).json())
    return {"armada_runs": runs["total"], "armada_jobs": jobs["total"], "armada_events": events}


@pytest.fixture
async def baseline(client) -> dict[str, int]:
    """One run, job and event (so status updates have targets); the row counts they make."""
    assert (await client.post("/api/jobs/", json=job_body())).status == 201
    assert (await client.post("/api/events/", json=event_body())).status == 201
    return await stored_rows(client)


@write_endpoints
@pytest.mark.parametrize("raw", MALFORMED_BODIES.values(), ids=MALFORMED_BODIES.keys())
async def test_malformed_bodies_are_a_400_and_store_nothing(client, baseline, method, path, raw):
    response = await client.request(method, path, data=raw,
                                    headers={"Content-Type": "application/json"})
    assert response.status == 400
    assert (await error_of(response))["error"] == "invalid_json"
    assert await stored_rows(client) == baseline


# Read by the standard library but not by orjson, which reads bodies first: judged as before.
BEYOND_ORJSON = {
    "NaN": b'{"run_uuid": NaN, "run_datetime": "2026-02-24T10:30:00"}',
    "infinity": b'{"run_uuid": 1e400, "run_datetime": "2026-02-24T10:30:00"}',
    "integer beyond 64 bits": b'{"run_uuid": 123456789012345678901234567890, '
                              b'"run_datetime": "2026-02-24T10:30:00"}',
    "escaped lone surrogate": b'{"run_uuid": "a\\ud800b", "run_datetime": "2026-02-24T10:30:00"}',
}


@pytest.mark.parametrize("raw", BEYOND_ORJSON.values(), ids=BEYOND_ORJSON.keys())
async def test_json_only_the_standard_library_reads_is_judged_as_before(client, raw):
    response = await client.post("/api/runs/", data=raw,
                                 headers={"Content-Type": "application/json"})
    assert response.status == 422
    assert list((await error_of(response))["fields"]) == ["run_uuid"]
    assert (await (await client.get("/api/runs/")).json())["total"] == 0


@write_endpoints
@pytest.mark.parametrize("value", NON_OBJECTS.values(), ids=NON_OBJECTS.keys())
async def test_json_that_is_not_an_object_is_a_422(client, baseline, method, path, value):
    response = await client.request(method, path, data=json.dumps(value).encode(),
                                    headers=JSON_BODY)
    assert response.status == 422
    body = await error_of(response)
    assert body["fields"] == {"body": ["Must be a JSON object."]}
    assert body["detail"] == "invalid body"
    assert await stored_rows(client) == baseline


async def test_an_event_of_a_batch_that_is_not_an_object_is_a_422_naming_its_index(client,
                                                                                  baseline):
    response = await client.post("/api/events/batch", json={"events": [event_body("e-2"), [1, 2]]})
    assert (await error_of(response))["fields"] == {"events": {"1": ["Must be a JSON object."]}}
    assert "_schema" not in await response.text()
    assert await stored_rows(client) == baseline


@write_endpoints
@pytest.mark.parametrize("wrong", [
    7, 1.5, True, ["id"], {"id": "x"}, "", "i" * 256, "\ud800", "a\udfffb",
], ids=["int", "float", "bool", "list", "object", "empty", "256 chars", "lone high surrogate",
        "lone low surrogate"])
async def test_a_bad_id_is_a_422_naming_it(client, baseline, method, path, wrong):
    field = ID_FIELD[path]
    response = await client.request(method, path, json={**VALID_BODY[path], field: wrong})
    assert response.status == 422
    assert list((await error_of(response))["fields"]) == [field]
    assert await stored_rows(client) == baseline


@write_endpoints
async def test_missing_required_fields_are_each_named(client, baseline, method, path):
    response = await client.request(method, path, json={})
    fields = (await error_of(response))["fields"]
    assert set(fields) == {
        "/api/runs/": {"run_uuid", "run_datetime"},
        "/api/jobs/": {"run_uuid", "job_datetime"},
        "/api/events/": {"event_content", "job_uuid", "event_datetime"},
        "/api/jobs/status": {"job_uuid", "job_status"},
        "/api/events/status": {"event_uuid", "event_status"},
    }[path]
    assert all(messages == ["Missing data for required field."] for messages in fields.values())
    assert await stored_rows(client) == baseline


@write_endpoints
@pytest.mark.parametrize("name", ["extra", "\ud800", "Run_UUID", ""])
async def test_unknown_fields_are_a_422_naming_them(client, baseline, method, path, name):
    response = await client.request(
        method, path, data=json.dumps({**VALID_BODY[path], name: 1}).encode(),
        headers={"Content-Type": "application/json"})
    assert response.status == 422
    assert (await error_of(response))["fields"] == {name: ["Unknown field."]}
    assert await stored_rows(client) == baseline


@write_endpoints
async def test_a_lone_surrogate_in_any_text_is_a_422(client, baseline, method, path):
    body = {key: "bad \ud800 text" if isinstance(value, str) else value
            for key, value in VALID_BODY[path].items()}
    response = await client.request(method, path, data=json.dumps(body).encode(),
                                    headers=JSON_BODY)
    assert response.status == 422
    assert set((await error_of(response))["fields"]) <= set(body)
    assert await stored_rows(client) == baseline


NUL_REFUSED = ["Contains code point 0 (NUL), which cannot be stored."]


@write_endpoints
async def test_a_nul_in_any_text_of_a_body_is_a_422_naming_each_field(client, baseline, method,
                                                                        path):
    # Code point 0 is refused on SQLite too: SQL Server's TDS engines cannot store it.
    texts = [key for key, value in VALID_BODY[path].items() if isinstance(value, str)
             and not key.endswith("_datetime") and not key.endswith("_status")]
    body = {**VALID_BODY[path], **{key: f"nul\x00inside {key}" for key in texts}}
    response = await client.request(method, path, json=body)
    assert response.status == 422
    assert (await error_of(response))["fields"] == {key: NUL_REFUSED for key in texts}
    assert await stored_rows(client) == baseline


async def test_a_nul_in_an_event_of_a_batch_is_a_422_and_stores_none_of_it(client, baseline):
    events = [event_body("event-2"), event_body("event-3", event_content="a\x00b")]
    response = await client.post("/api/events/batch", json={"events": events})
    assert (await error_of(response))["fields"] == {
        "events": {"1": {"event_content": NUL_REFUSED}}}
    assert await stored_rows(client) == baseline


def cursor_with_nul() -> str:
    raw = json.dumps(["2026-02-24T10:30:00.000000", "event\x00"]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("method, url, field", [
    ("GET", "/api/events/?job_uuid=%00", "job_uuid"),
    ("GET", "/api/events/?q=abc%00&limit=5", "q"),
    ("GET", "/api/events/?q=abc%00", "q"),
    ("GET", "/api/events/?limit=5&before=" + cursor_with_nul(), "before"),
    ("GET", "/api/jobs/?run_uuid=run%00", "run_uuid"),
    ("GET", "/api/jobs/?agent=%00", "agent"),
    ("GET", "/api/jobs/?q=job%00", "q"),
    ("GET", "/api/runs/?q=%00", "q"),
    ("GET", "/api/runs/%00", "run_uuid"),
    ("DELETE", "/api/runs/%00", "run_uuid"),
    ("GET", "/api/runs/run-1%00/export", "run_uuid"),
    ("GET", "/api/jobs/job%00", "job_uuid"),
    ("GET", "/api/events/%00", "event_uuid"),
    ("GET", "/ws/events/?run_uuid=%00", "run_uuid"),
    ("GET", "/ws/events/?since=1&epoch=%00", "epoch"),
])
async def test_a_nul_in_a_query_parameter_or_path_segment_is_a_422_naming_it(
        client, baseline, method, url, field):
    response = await client.request(method, url)
    assert response.status == 422
    body = await error_of(response)
    assert body["fields"] == {field: NUL_REFUSED}
    assert await stored_rows(client) == baseline


async def test_an_event_content_that_is_a_list_is_a_422(client, baseline):
    response = await client.post("/api/events/",
                                 json=event_body("event-2", event_content=["Page", "loaded"]))
    assert (await error_of(response))["fields"] == {"event_content": ["Not a valid string."]}
    assert await stored_rows(client) == baseline


@write_endpoints
async def test_a_body_over_one_mebibyte_is_a_413(client, baseline, method, path):
    padding = "x" * (1024 * 1024)
    response = await client.request(method, path, json={**VALID_BODY[path], "padding": padding})
    assert response.status == 413
    body = await error_of(response)
    assert body["error"] == "payload_too_large"
    assert body["detail"] == ("the body is larger than 1048576 bytes, the limit ARMADA_MAX_BODY"
                              " sets")
    assert await stored_rows(client) == baseline


async def test_a_body_just_under_the_limit_is_read(client, baseline):
    content = "x" * (1024 * 1024 - 500)
    response = await client.post("/api/events/", json=event_body("big", event_content=content))
    assert response.status == 201


async def test_the_body_limit_follows_the_configuration(make_client):
    small = await make_client(max_body=2048)
    response = await small.post("/api/runs/", json={**RUN, "run_uuid": "r" * 3000})
    assert response.status == 413
    assert "2048 bytes, the limit ARMADA_MAX_BODY sets" in (await error_of(response))["detail"]


# `/` is the live page (test_live_page.py).
@pytest.mark.parametrize("path", ["/nothing", "/api", "/api/", "/api/nothing", "/api/runs/x/y",
                                  "/api/jobs/status/x", "/tracking/api/runs/", "/api/runs//"])
async def test_unknown_routes_are_a_404_in_json(client, path):
    response = await client.get(path)
    assert response.status == 404
    assert (await error_of(response))["error"] == "not_found"


@pytest.mark.parametrize("method, path", [
    ("PUT", "/api/runs/"), ("DELETE", "/api/runs/"), ("PATCH", "/api/runs/"),
    ("PUT", "/api/runs/run-1"), ("POST", "/api/runs/run-1"),
    ("DELETE", "/api/jobs/"), ("PUT", "/api/jobs/status"), ("POST", "/api/jobs/status"),
    ("PUT", "/api/events"), ("DELETE", "/api/events/status"), ("POST", "/ws/events/"),
    ("DELETE", "/api/jobs/job-1"), ("PATCH", "/api/events/event-1"),
])
async def test_a_wrong_method_is_a_405_in_json_with_the_allowed_ones(client, method, path):
    response = await client.request(method, path)
    assert response.status == 405
    assert (await error_of(response))["error"] == "method_not_allowed"
    assert response.headers["Allow"]


@pytest.mark.parametrize("headers", [{}, {"Upgrade": "websocket"}, {"Connection": "Upgrade"}])
async def test_the_websocket_path_without_an_upgrade_is_a_426_saying_so_in_json(client, headers):
    response = await client.get("/ws/events/", headers=headers)
    assert response.status == 426
    body = await error_of(response)
    assert body["error"] == "upgrade_required"
    assert body["detail"].startswith("/ws/events/ is a WebSocket: connect with a WebSocket client")
    assert response.headers["Upgrade"] == "websocket"


@pytest.mark.parametrize("path", READS)
@pytest.mark.parametrize("query", [
    "page=%ED%A0%80", "page=%FF", "%FF=1", "%ED%A0%80=1", "page=%00", "page=" + "9" * 5000,
    "page=1e3", "page=0x10", "page=true", "page=null", "page[]=1",
])
async def test_odd_query_strings_are_a_4xx_in_json(client, path, query):
    response = await client.get(f"{path}?{query}")
    assert response.status == 422
    await error_of(response)


# A corpus of JSON-ish values: any JSON, and objects with the service's own field names.
QUERY_NAMES = {"page", "page_size", "status", "agent", "since", "until", "limit", "before"}
FIELD_NAMES = sorted({key for body in VALID_BODY.values() for key in body} | QUERY_NAMES)
ODD_NAMES = ["", "\ud800", "\udfff", "\x00", "a" * 300]
# Every code point, lone surrogates included: JSON can carry them as escapes.
any_text = st.text(st.characters(exclude_categories=()) | st.characters(categories=["Cs"]))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | any_text,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(any_text, children, max_size=4),
    max_leaves=10,
)
texts = any_text | st.sampled_from(["", "run-1", "job-1", "2026-02-24T10:30:00", "\ud800",
                                     "a" * 256, "Running", "-1", "0", "101", "1e9"])
record_like = st.dictionaries(st.sampled_from(FIELD_NAMES + ODD_NAMES) | any_text,
                              texts | json_values, max_size=6)
raw_bodies = (
    st.binary(max_size=64)
    | json_values.map(lambda value: json.dumps(value).encode())
    | record_like.map(lambda value: json.dumps(value).encode())
)
queries = st.dictionaries(st.sampled_from(FIELD_NAMES + ODD_NAMES) | any_text, texts, max_size=4)
ENDPOINTS = WRITES + [("GET", path) for path in READS] + [
    ("DELETE", "/api/runs/{}"), ("OPTIONS", "/api/runs/"), ("GET", "/ws/events/"),
    ("GET", "/api/runs/{}"), ("GET", "/api/jobs/{}"), ("GET", "/api/events/{}"),
]


def escape(text: str) -> str:
    """Percent-encode every byte, lone surrogates included (as a client could send them)."""
    return quote(text, safe="", errors="surrogatepass")


@pytest.mark.slow
@settings(max_examples=300, deadline=None, database=None, derandomize=DERANDOMIZE,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(endpoint=st.sampled_from(ENDPOINTS), body=raw_bodies, query=queries, segment=texts)
async def test_no_input_makes_a_server_error(client, endpoint, body, query, segment):
    method, path = endpoint
    url = path.format(escape(segment) or "x") + "?" + "&".join(
        f"{escape(key)}={escape(value)}" for key, value in query.items())
    response = await client.request(method, url, data=body, headers=JSON_BODY)
    assert response.status < 500, (method, url, body, await response.text())
    if response.status >= 400:
        assert_error_shape(response.status, response.content_type, await response.json())
