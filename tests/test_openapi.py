"""The API description: complete, browsable without a CDN, and true (schemathesis).

Schemathesis generates requests from `/api/openapi.json` against the real service in a
child process and checks every answer: no 5xx, and status, content type and body as the
document says.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from aiohttp.test_utils import TestClient
from helpers import DERANDOMIZE
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from server_process import ServiceProcess

from armada.http.docs import ASSETS
from armada.http.openapi import DESCRIPTIONS, described_routes

MAX_EXAMPLES = 40
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]


def test_every_route_is_described() -> None:
    missing = [route for route in described_routes() if route not in DESCRIPTIONS]
    assert missing == []


async def test_the_document_lists_every_described_operation(client: TestClient) -> None:
    response = await client.get("/api/openapi.json")

    assert response.status == 200
    document = await response.json()
    assert document["openapi"].startswith("3.")
    listed = {(method.upper(), path) for path, operations in document["paths"].items()
              for method in operations}
    assert listed == set(described_routes())
    run = document["components"]["schemas"]["Run"]
    assert run["properties"]["run_datetime"] == {"type": "string", "format": "date-time"}
    assert set(run["required"]) == {"run_uuid", "run_datetime"}


@pytest.mark.parametrize("kind", ["ndjson", "csv"])
async def test_an_export_is_described_in_the_media_type_it_is_sent_in(
        client: TestClient, kind: str) -> None:
    document = await (await client.get("/api/openapi.json")).json()
    described = document["paths"]["/api/runs/{run_uuid}/export"]["get"]["responses"]["200"]
    run = {"run_uuid": "run-1", "run_datetime": "2026-02-24T10:30:00"}
    assert (await client.post("/api/runs/", json=run)).status == 201

    response = await client.get("/api/runs/run-1/export", params={"format": kind})

    assert response.status == 200
    assert response.content_type in described["content"]


async def test_the_docs_page_and_its_assets_come_from_this_service(client: TestClient) -> None:
    redirect = await client.get("/api/docs", allow_redirects=False)
    assert redirect.status == 302
    assert redirect.headers["Location"] == "docs/"

    page = await client.get("/api/docs/")
    assert page.status == 200
    assert page.content_type == "text/html"
    html = await page.text()
    assert "http://" not in html and "https://" not in html
    for asset in ("swagger-ui.css", "swagger-ui-bundle.js", "docs.js"):
        assert f'"{asset}"' in html

    for asset, (_path, content_type) in ASSETS.items():
        response = await client.get(f"/api/docs/{asset}")
        assert response.status == 200, asset
        assert response.content_type == content_type
        assert len(await response.read()) > 0
    assert (await client.get("/api/docs/..%2Fopenapi.py")).status == 404


# Schemathesis against the running service


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    folder: Path = tmp_path_factory.mktemp("schemathesis")
    process = ServiceProcess(folder / "armada.db", folder)
    process.start()
    yield process
    process.stop()


@pytest.mark.external
@pytest.mark.slow
def test_the_service_answers_as_its_document_says(service: ServiceProcess) -> None:
    # Schemathesis' own pytest plugin does not run on this pytest; its strategies do.
    api = schemathesis.openapi.from_url(f"{service.url}/api/openapi.json")
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) == len(described_routes())
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            check_operation(operation, mode, service.url)


def check_operation(operation: Any, mode: GenerationMode, base_url: str) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
              derandomize=DERANDOMIZE, suppress_health_check=list(HealthCheck))
    def answers_as_documented(case: Any) -> None:
        case.call_and_validate(base_url=base_url, checks=CHECKS)

    try:
        answers_as_documented()
    except Unsatisfiable:
        # No invalid input exists for an operation that takes none (GET /healthz).
        assert mode == GenerationMode.NEGATIVE, operation.label
