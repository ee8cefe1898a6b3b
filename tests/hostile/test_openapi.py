"""schemathesis against the live notification service's OpenAPI document: every operation,
with a user token, a service token, a forged token and none. No response is a 5xx, and every
response conforms to the document (status code, content type, body schema)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.system import System

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def headers_for(system: System, who: str) -> dict[str, str]:
    if who == "user":
        return system.user_headers("schemathesis-user")
    if who == "service":
        return system.service_headers("schemathesis-service")
    if who == "forged":
        return {"Authorization": "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."}
    return {}


def fuzz_every_operation(system: System, examples: int) -> int:
    schema = schemathesis.openapi.from_url(f"{system.api_url}/openapi.json")
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path.startswith("/api/v1/unsubscribe"):
            continue  # an HTML page for people (its content type is not documented yet)
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=examples, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        def run(case: schemathesis.Case) -> None:
            for who in ("user", "service", "forged", "none"):
                case.call_and_validate(
                    base_url=system.api_url,
                    headers=headers_for(system, who),
                    checks=CHECKS,
                    timeout=15,
                )

        run()
    return operations


def test_no_operation_answers_5xx_or_off_schema(hostile_system: System) -> None:
    assert fuzz_every_operation(hostile_system, examples=8) >= 10


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_no_operation_answers_5xx_or_off_schema_long(hostile_system: System) -> None:
    fuzz_every_operation(hostile_system, examples=300)
