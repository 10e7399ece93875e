"""Requests aiohttp's parser refuses (`armada.private_api.aiohttp_bad_request`): the service's JSON
error (414 for a request line too long, 431 for headers too large, 400 for what is not
HTTP), nothing of the bytes sent, and one log line; on the test server and on a real
`armada serve`, over raw sockets (the aiohttp it was checked on: tests/test_private_api.py)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from server_process import ServiceProcess

from armada import const

# Bytes no answer may contain: they would be what the client sent, echoed.
SENT = b"Q7xZ"
LONG_LINE = b"GET /api/runs/" + SENT * 5000 + b" HTTP/1.1\r\nHost: localhost\r\n\r\n"  # 20 KB
LONG_HEADER = (b"GET /api/runs/ HTTP/1.1\r\nHost: localhost\r\nCookie: "
               + SENT * 25_000 + b"\r\n\r\n")  # 100 KB
LONG_HEADER_NAME = (b"GET /api/runs/ HTTP/1.1\r\nHost: localhost\r\nX-" + SENT * 3000
                    + b": 1\r\n\r\n")
TOO_MANY_HEADERS = (b"GET /api/runs/ HTTP/1.1\r\nHost: localhost\r\n"
                    + b"".join(b"X-%s-%d: 1\r\n" % (SENT, n) for n in range(200)) + b"\r\n")
TLS_HELLO = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + SENT * 10 + b"\r\n\r\n"
NOT_HTTP = SENT * 10 + b" / HTTP/1.1\r\n\r\n"
BAD_HEADER = b"GET /api/runs/ HTTP/1.1\r\nHost: localhost\r\nX-" + SENT + b" y: 1\r\n\r\n"
REFUSED = {
    "request line of 20 KB": (LONG_LINE, 414, "uri_too_long"),
    "header of 100 KB": (LONG_HEADER, 431, "headers_too_large"),
    "header name of 12 KB": (LONG_HEADER_NAME, 431, "headers_too_large"),
    "200 headers": (TOO_MANY_HEADERS, 431, "headers_too_large"),
    "TLS to the HTTP port": (TLS_HELLO, 400, "bad_request"),
    "not HTTP": (NOT_HTTP, 400, "bad_request"),
    "malformed header": (BAD_HEADER, 400, "bad_request"),
}


async def exchange(port: int, sent: bytes) -> bytes:
    """Send `sent` on a new connection; everything the server answers until it closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(sent)
        try:
            await writer.drain()
        except ConnectionError:
            pass  # the server answered and closed before reading it all
        received = b""
        async with asyncio.timeout(10):
            while chunk := await reader.read(65536):
                received += chunk
        return received
    except ConnectionResetError:
        return received
    finally:
        writer.close()


def parsed(answer: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip()
               for name, _, value in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, body


def assert_json_refusal(answer: bytes, status: int, error: str) -> dict[str, Any]:
    assert SENT not in answer, answer[:500]
    got, headers, body = parsed(answer)
    assert got == status, answer[:500]
    assert headers["content-type"].startswith("application/json")
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-request-id"]
    refusal = json.loads(body)
    assert set(refusal) == {"error", "detail"} and refusal["error"] == error
    assert refusal["detail"]
    return refusal


@pytest.mark.parametrize("sent, status, error", REFUSED.values(), ids=REFUSED.keys())
async def test_a_request_the_parser_refuses_gets_a_json_error_echoing_nothing(
        client: Any, sent: bytes, status: int, error: str) -> None:
    answer = await exchange(client.server.port, sent)  # read until the server closes

    assert_json_refusal(answer, status, error)


async def test_the_details_name_the_limits(client: Any) -> None:
    port = client.server.port

    line = assert_json_refusal(await exchange(port, LONG_LINE), 414, "uri_too_long")
    header = assert_json_refusal(await exchange(port, LONG_HEADER), 431, "headers_too_large")
    count = assert_json_refusal(await exchange(port, TOO_MANY_HEADERS), 431, "headers_too_large")

    assert str(const.MAX_REQUEST_LINE_BYTES) in line["detail"]
    assert str(const.MAX_HEADER_BYTES) in header["detail"]
    assert str(const.MAX_HEADERS) in count["detail"]


@pytest.mark.parametrize("sent", [
    b"GET /api/runs/" + b"r" * (const.MAX_REQUEST_LINE_BYTES - 200) + b" HTTP/1.1\r\n"
    b"Host: localhost\r\nConnection: close\r\n\r\n",
    b"GET /api/runs/x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nCookie: "
    + b"c" * (const.MAX_HEADER_BYTES - 100) + b"\r\n\r\n",
    b"GET /api/runs/x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
    + b"".join(b"X-H-%d: 1\r\n" % n for n in range(const.MAX_HEADERS - 10)) + b"\r\n",
], ids=["long-url-within-limit", "long-header-within-limit", "many-headers-within-limit"])
async def test_a_head_within_the_limits_is_answered_as_usual(client: Any, sent: bytes) -> None:
    status, _, body = parsed(await exchange(client.server.port, sent))

    # The API's own answer: no such run (or, for the long URL, an id too long for one).
    assert (status, json.loads(body)["error"]) in {(404, "not_found"),
                                                   (422, "validation_error")}


async def test_aiohttp_alone_answers_in_text_and_echoes_what_was_sent(aiohttp_server: Any
                                                                      ) -> None:
    """The public path, for comparison: what the service answered before this module."""
    server = await aiohttp_server(web.Application())

    answer = await exchange(server.port, LONG_LINE)

    status, headers, _ = parsed(answer)
    assert status == 400 and headers["content-type"].startswith("text/plain")
    assert SENT in answer


async def test_the_log_gets_one_line_without_a_traceback(client: Any, caplog: Any) -> None:
    caplog.set_level("INFO")

    await exchange(client.server.port, LONG_HEADER)

    lines = [record for record in caplog.records if "refused before reading" in
             record.getMessage()]
    assert len(lines) == 1 and lines[0].exc_info is None
    assert "431" in lines[0].getMessage() and "Q7xZ" not in caplog.text
    # aiohttp logged a traceback at ERROR for each (the test server's access log aside).
    assert not [record for record in caplog.records
                if record.name.startswith("aiohttp") and record.levelno >= logging.WARNING]


@pytest.fixture(scope="module")
def serving(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """A real `armada serve`, logging at INFO."""
    root = tmp_path_factory.mktemp("bad_requests")
    process = ServiceProcess(root / "armada.db", cwd=root, ARMADA_LOG_LEVEL="INFO")
    process.start()
    yield process
    process.stop()


@pytest.mark.external
@pytest.mark.parametrize("sent, status, error", [REFUSED["request line of 20 KB"],
                                                 REFUSED["header of 100 KB"],
                                                 REFUSED["200 headers"]],
                         ids=["request-line-20KB", "header-100KB", "200-headers"])
async def test_armada_serve_answers_them_in_json_too(serving: ServiceProcess, sent: bytes,
                                                     status: int, error: str) -> None:
    assert_json_refusal(await exchange(serving.port, sent), status, error)


@pytest.mark.external
def test_armada_serve_logs_one_line_per_refusal_and_no_traceback(tmp_path: Path) -> None:
    service = ServiceProcess(tmp_path / "armada.db", cwd=tmp_path, ARMADA_LOG_LEVEL="INFO")
    service.start()
    try:
        asyncio.run(exchange(service.port, LONG_LINE))
        asyncio.run(exchange(service.port, TLS_HELLO))
        assert service.process is not None and service.process.stderr is not None
        service.process.terminate()
        service.process.wait(timeout=15)
        log = service.process.stderr.read().decode()
    finally:
        service.stop()

    refusals = [line for line in log.splitlines() if "refused before reading" in line]
    assert len(refusals) == 2, log
    assert "Traceback" not in log and "Q7xZ" not in log
