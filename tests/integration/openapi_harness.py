"""The schemathesis harness of the APIs' OpenAPI tests (test_shop_openapi, test_recsys_openapi):
every operation of the schema the served app publishes, called with generated valid (positive)
and schema-violating (negative) input over real HTTP. Every response must be no server error
and conform to the schema (status code, content type, body), and what the schema excludes must
be refused.

schemathesis's own pytest decorator does not run under pytest 9 (it reads a private node
attribute that is gone), so the operations are looped over here with hypothesis's ``given``, and
every failure is collected and reported together. The API under test reads the local stack's
PostgreSQL and MongoDB (:func:`stack_postgres`, :func:`stack_mongo`)."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from pydantic import SecretStr
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from polystream_common.settings import MongoSettings, PostgresSettings

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


def stack_postgres(stack: dict[str, str]) -> PostgresSettings:
    """The local stack's PostgreSQL, as the API under test connects to it."""
    return PostgresSettings(
        port=int(stack["POSTGRES_PORT"]),
        user=stack["POSTGRES_USER"],
        password=SecretStr(stack["POSTGRES_PASSWORD"]),
        database=stack["POSTGRES_DB"],
    )


def stack_mongo(stack: dict[str, str], database: str) -> MongoSettings:
    """The local stack's MongoDB, ``database`` on it."""
    return MongoSettings(
        url=SecretStr(f"mongodb://127.0.0.1:{stack['MONGO_PORT']}"), database=database
    )


def exercise(
    operation: schemathesis.APIOperation, mode: GenerationMode, api_key: str, max_examples: int
) -> None:
    """Up to ``max_examples`` generated calls of one operation in one mode; raises the first
    failure. Valid calls carry the key (a generated one would be a wrong key: 401); invalid ones
    go as generated, so a missing or wrong key must be refused too."""
    headers = {"X-API-Key": api_key} if mode is GenerationMode.POSITIVE else None

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def call(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    call()


def assert_every_operation_conforms(
    api_schema: schemathesis.BaseSchema, *, api_key: str, max_examples: int, min_operations: int
) -> None:
    """Each of the schema's operations (at least ``min_operations``: a schema that lost its
    routes fails), in both modes; every failure, with its reproducing request, in one assert."""
    failures: list[str] = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= min_operations, [op.label for op in operations]
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                exercise(operation, mode, api_key, max_examples)
            except Unsatisfiable:  # nothing to break (/healthz): no negative case exists
                assert mode is GenerationMode.NEGATIVE, operation.label
            except Exception as exc:  # a check's failure, with the reproducing request
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    assert not failures, "\n\n".join(failures)
