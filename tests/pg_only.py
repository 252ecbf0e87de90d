"""On the PostgreSQL pass a PostgreSQL-only test must run: its skip there is a failure.

`@pytest.mark.postgres_only(reason=...)` tests are skipped on SQLite (tests/conftest.py). When
TEST_DATABASE_URL is PostgreSQL, a skip of one of them (a missing service, a fixture or the test
itself calling pytest.skip) would leave the guarantee it pins untested in CI, so the report
hook below turns that skip into a failure that names the test and the reason."""

import os

import pytest


def on_postgres() -> bool:
    """True when the suite runs on PostgreSQL (TEST_DATABASE_URL)."""
    return os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A skipped postgres_only test fails when the suite runs on PostgreSQL."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and item.get_closest_marker("postgres_only") and on_postgres():
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = (
            f"{item.nodeid} needs PostgreSQL and was skipped on the PostgreSQL pass: {reason}"
        )
