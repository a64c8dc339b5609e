"""Schemathesis over the live server's OpenAPI document: no 5xx, and answers that match it.

Generated requests come in two kinds: ones that fit the document (each answer
must then also match its declared schema, content type and status codes) and
ones that do not (which must never get a 5xx). Hypothesis runs in a worker thread,
because the server under test runs on this test's own event loop.
"""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.slow

EXAMPLES_PER_OPERATION = 15
CHECKS = {
    GenerationMode.POSITIVE: [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ],
    # Not negative_data_rejection: unknown query parameters are ignored on purpose,
    # so that a client of the original API that still sends `?userId=` keeps working.
    GenerationMode.NEGATIVE: [not_a_server_error],
}


def fuzz(base_url: str, token: str) -> list[str]:
    schema = schemathesis.openapi.from_url(f"{base_url}/api/openapi.json")
    headers = {"Authorization": f"Bearer {token}"}
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode, checks in CHECKS.items():
            try:
                runner(operation, mode, checks, base_url, headers, failures)()
            except Unsatisfiable:
                # Nothing to make invalid: GET /api/health takes no input at all.
                assert mode is GenerationMode.NEGATIVE, operation.label
    return failures


def runner(
    operation: Any,
    mode: GenerationMode,
    checks: list[Any],
    base_url: str,
    headers: dict[str, str],
    failures: list[str],
) -> Any:
    @hypothesis_settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        response = case.call(base_url=base_url, headers=headers, timeout=20)
        try:
            case.validate_response(response, checks=checks, headers=headers)
        except (Exception, BaseExceptionGroup) as exc:  # schemathesis reports a group
            failures.append(f"{mode.value} {operation.label}: {exc}")

    return run


async def test_generated_requests_never_get_a_5xx(server, people, settings):
    # Mutated tokens count as failed authentications; here they must not lock the fuzzer out.
    server.auth.limiter.limit = 10**9
    try:
        failures = await asyncio.to_thread(fuzz, server.api_url, people["root"].token)
    finally:
        server.auth.limiter.limit = server.gateway.options.auth_failures_max
        # Random queue names were paused, and random rate limits, schedules and rules made:
        # leave none of them for the tests after this one.
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            conn.execute("UPDATE queues SET paused = false")
            conn.execute("DELETE FROM rate_limits")
            conn.execute("DELETE FROM schedules")
            conn.execute("DELETE FROM notification_rules")
    assert not failures, f"{len(failures)} failures; the first:\n" + "\n".join(failures[:3])
