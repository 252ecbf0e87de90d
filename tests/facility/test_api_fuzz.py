"""Schemathesis over the facility operations with tickets in every state to act on: no 500,
every response as documented, schema-valid requests never refused as invalid."""

import contextvars
import os

import schemathesis
from hypothesis import HealthCheck, given, settings

# Fewer by default than the whole-API fuzz test, which covers these operations too.
MAX_EXAMPLES = int(os.environ.get("CITYDESK_FUZZ_EXAMPLES", "10"))
SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def test_facility_operations_conform_to_the_document(app, seeded):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [
        result.ok()
        for result in schema.get_all_operations()
        if result.ok().path.startswith(("/api/v1/defects", "/api/v1/rounds"))
    ]
    assert len(operations) == 15
    for operation in operations:

        @SETTINGS
        @given(case=operation.as_strategy())
        def exercise(case):
            for headers in seeded:
                contextvars.Context().run(case.call_and_validate, headers=headers)

        try:
            exercise()
        except Exception as exc:
            raise AssertionError(f"{operation.method.upper()} {operation.path}: {exc}") from exc
