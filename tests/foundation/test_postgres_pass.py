"""CI's PostgreSQL pass really runs the PostgreSQL-only tests: there, a skip of one fails."""

import pytest

CONFTEST = "from tests.pg_only import pytest_runtest_makereport  # noqa: F401\n"
TESTS = """
import pytest

@pytest.mark.postgres_only(reason="needs PostgreSQL")
def test_skipped_by_its_fixture():
    pytest.skip("no PostgreSQL here")

@pytest.mark.postgres_only(reason="needs PostgreSQL")
def test_that_runs():
    pass

def test_skipped_for_another_reason():
    pytest.skip("not a PostgreSQL-only test")
"""
INI = "[pytest]\nmarkers =\n    postgres_only: needs PostgreSQL\n"


@pytest.mark.parametrize(
    ("url", "failed", "skipped"),
    [
        ("postgresql+psycopg://postgres@127.0.0.1/x", 1, 1),
        ("", 0, 2),
        ("sqlite:///x.sqlite3", 0, 2),
    ],
)
def test_a_postgres_only_test_skipped_on_postgresql_fails(
    url, failed, skipped, pytester, monkeypatch
):
    monkeypatch.setenv("TEST_DATABASE_URL", url)
    pytester.makeini(INI)
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_marked=TESTS)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-rfs")
    result.assert_outcomes(passed=1, failed=failed, skipped=skipped)
    if failed:
        result.stdout.fnmatch_lines(
            ["*test_skipped_by_its_fixture needs PostgreSQL and was skipped on the PostgreSQL*"]
        )
