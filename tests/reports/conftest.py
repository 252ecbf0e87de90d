"""Fixtures of the report tests: the clock in 2024, the published 2023 records and a CLI
runner (the app, the clock, English messages and signed-in clients come from tests/conftest)."""

import inspect

import pytest

from tests.reports import data as rd


@pytest.fixture
def in_2024(frozen_clock):
    """Now is 2024-03-04 10:00 in Taipei."""
    return frozen_clock


@pytest.fixture
def data_2023(frozen_clock):
    """The Secretariat's published 2023 records, read on 2024-03-04."""
    rd.published_2023()
    return frozen_clock


@pytest.fixture
def published(data_2023, create_user):
    """The published 2023 records and a supervisor `chief` (李股長) to read them."""
    create_user(role="supervisor", username="chief", name="李股長")
    return data_2023


@pytest.fixture
def runner(app):
    """A CLI runner whose stderr is kept apart from stdout (on every Click version)."""
    from click.testing import CliRunner

    if "mix_stderr" in inspect.signature(CliRunner.__init__).parameters:
        return app.test_cli_runner(mix_stderr=False)
    return app.test_cli_runner()
