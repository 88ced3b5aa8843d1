"""Shared fixtures: settings, the app on SQLite and on PostgreSQL, clients, the database.

Every test that takes `app` (or `client`, `rt`) runs twice: on a SQLite file and on a fresh
PostgreSQL database created for this test session. PostgreSQL must be reachable: where it is
not, these tests fail rather than skip, because CI must exercise both.
"""
from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from backend.app import create_app
from backend.config import Settings
from backend.storage import migrate
from backend.storage.models import Base
from tests.fakes.openai_server import FakeOpenAIServer

POSTGRES_ADMIN_URL = os.environ.get("REPLYWISE_TEST_POSTGRES_URL",
                                    "postgresql://postgres@127.0.0.1:5432/test")
FIXTURES = Path(__file__).parent / "fixtures"
CHECKOUT = Path(__file__).parent.parent


def replywise_command(*args: str) -> list[str]:
    """`replywise ARGS` running this checkout's code; start it with cwd=CHECKOUT.

    Not the venv's `replywise` script: that imports the package the venv was installed from,
    which need not be the checkout under test (worktrees share one venv), and a server whose
    code expects another migration head never reports ready.
    """
    return [sys.executable, "-c", "from backend.cli import main; main()", *args]


@pytest.fixture(scope="session")
def _fake_openai_server() -> Iterator[FakeOpenAIServer]:
    # One real HTTP server for the session: binding is cheap, joining its threads per test not.
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def openai_server(_fake_openai_server: FakeOpenAIServer) -> Iterator[FakeOpenAIServer]:
    """The OpenAI-compatible server on loopback, with an empty script and no recorded requests."""
    _fake_openai_server.reset()
    yield _fake_openai_server
    _fake_openai_server.reset()


def _psycopg_url(url: str) -> str:
    return "postgresql+psycopg://" + url.split("://", 1)[1]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A new, migrated PostgreSQL database for this session, dropped afterwards."""
    name = f"replywise_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(_psycopg_url(POSTGRES_ADMIN_URL), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - turned into a clear failure below
        admin.dispose()
        pytest.fail(f"PostgreSQL at {POSTGRES_ADMIN_URL} is required for the test suite: {exc}")
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    url = f"{base}/{name}"
    migrate.upgrade(url)
    engine = create_engine(_psycopg_url(url))
    with engine.connect() as conn:
        has_vectors = conn.execute(text("SELECT to_regclass('kb_vectors')")).scalar()
    engine.dispose()
    if not has_vectors:
        pytest.fail("The pgvector extension is required on the test PostgreSQL for the hybrid "
                    "ranking tests: run `bash scripts/install-pgvector` (as root).")
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory) -> str:
    """A migrated SQLite file for this session."""
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'replywise.db'}"
    migrate.upgrade(url)
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request) -> str:
    """Each database-backed test runs on both databases."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Embedded-mode settings on the test database: offline drafter, local identity."""
    # The draft cache is off here: most tests send one request many times and mean a provider
    # call each time. tests/limits/test_draft_cache.py turns it on (draft_cache_ttl_s).
    return Settings(env="development", data_dir=tmp_path, database_url=database_url,
                    log_json=True, pseudonym_key=b"test-pseudonym-key-0123456789",
                    draft_cache_ttl_s=0)


@pytest.fixture
def make_app(settings: Settings):
    """Build an app with some settings changed (e.g. providers); cleans the database after."""
    apps = []

    def build(**changes):
        app = create_app(settings.with_overrides(**changes))
        app.config["TESTING"] = True
        apps.append(app)
        return app

    yield build
    for app in apps:
        rt = app.extensions["replywise"]
        _empty_tables(rt.db.engine)
        rt.close()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def rt(app):
    """The app's runtime, for calling services directly."""
    return app.extensions["replywise"]


@pytest.fixture
def client(app):
    return app.test_client()


def _empty_tables(engine) -> None:
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


def local_headers(tenant: str = "local", user: str = "local-user", **extra: str) -> dict[str, str]:
    """Headers that pick a local identity (loopback only)."""
    return {"X-Replywise-Tenant": tenant, "X-Replywise-User": user, **extra}


@pytest.fixture
def cli_env(database_url: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment for running `replywise` commands on the test database; cleaned after."""
    yield {"REPLYWISE_DATABASE_URL": database_url, "REPLYWISE_DATA_DIR": str(tmp_path),
           "REPLYWISE_LOG_LEVEL": "WARNING", "REPLYWISE_PSEUDONYM_KEY":
           "test-pseudonym-key-0123456789"}
    from backend.storage.db import Database
    database = Database(database_url)
    _empty_tables(database.engine)
    database.dispose()


@pytest.fixture
def run_cli(cli_env):
    """Invoke the CLI in-process: run_cli(*args, input=None, env=None) -> click Result."""
    from click.testing import CliRunner

    from backend.cli import cli

    def run(*args: str, input: str | None = None, env: dict[str, str] | None = None):
        return CliRunner().invoke(cli, list(args), input=input, env={**cli_env, **(env or {})},
                                  catch_exceptions=False)

    return run


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright, one for the whole session (Playwright's
    sync API allows one instance per thread); fails, never skips, when Chromium is missing."""
    import shutil

    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.fail(f"Chromium is required for the browser tests: install it "
                    f"(apt-get install -y chromium) so that {CHROMIUM} exists.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
