"""Browser-test fixtures: the real backend on loopback, headless Chromium, Office.js stand-ins.

The backend runs with create_app() on the session's SQLite database, served by werkzeug in a
thread on an ephemeral port, exactly as the pane meets it in production minus TLS. Chromium is
Debian's; Playwright's own browser download is never used. A missing Chromium fails the run.
"""
from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

from backend.app import create_app
from backend.config import Settings
from backend.storage.models import Base

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
OFFICE_JS_URL = "https://appsforoffice.microsoft.com/lib/1/hosted/office.js"
HERE = Path(__file__).parent
ARTIFACTS = HERE.parent.parent / "test-artifacts"


class _QuietHandler(WSGIRequestHandler):
    # Keep-alive, as any production server does: a page load is a dozen module requests.
    protocol_version = "HTTP/1.1"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # every asset of every page load would flood the test output


class _InFlight:
    """WSGI middleware counting requests whose response is still being sent (streams too)."""

    def __init__(self, app) -> None:
        self.app = app
        self.count = 0
        self.lock = threading.Condition()

    def __call__(self, environ, start_response):
        with self.lock:
            self.count += 1
        try:
            body = self.app(environ, start_response)
        except BaseException:
            self._done()
            raise
        return _Closing(body, self._done)

    def _done(self) -> None:
        with self.lock:
            self.count -= 1
            self.lock.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self.lock:
            return self.lock.wait_for(lambda: self.count == 0, timeout=timeout)


class _Closing:
    def __init__(self, body, on_close) -> None:
        self._body = body
        self._on_close = on_close

    def __iter__(self):
        return iter(self._body)

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close:
                close()
        finally:
            self._on_close()


class LiveServer:
    """The backend app served on 127.0.0.1 in a background thread."""

    def __init__(self, app) -> None:
        self.app = app
        self._in_flight = _InFlight(app)
        self._server = make_server("127.0.0.1", 0, self._in_flight, threaded=True,
                                   request_handler=_QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        """Scheme, host and port."""
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> LiveServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, let running requests (a cancelled stream's accounting) finish."""
        self._server.shutdown()
        self._in_flight.wait_idle(timeout=10)
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def build_app(sqlite_url: str, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """build_app(**settings_changes) -> a Flask app on the session's SQLite; cleaned after."""
    apps: list[Any] = []

    def build(**changes: Any):
        settings = Settings(env="development", data_dir=tmp_path, database_url=sqlite_url,
                            log_json=True, log_level="WARNING",
                            pseudonym_key=b"test-pseudonym-key-0123456789")
        app = create_app(settings.with_overrides(**changes))
        apps.append(app)
        return app

    yield build
    for app in apps:
        rt = app.extensions["replywise"]
        with rt.db.engine.begin() as conn:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())
        rt.close()


@pytest.fixture
def start_server(build_app) -> Iterator[Callable[..., LiveServer]]:
    """start_server(**settings_changes) -> a running LiveServer, stopped after the test."""
    servers: list[LiveServer] = []

    def start(**changes: Any) -> LiveServer:
        server = LiveServer(build_app(**changes)).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


class Pane:
    """One taskpane page plus helpers to configure the Office stand-in and read its calls."""

    def __init__(self, page, server: LiveServer) -> None:
        self.page = page
        self.server = server
        self.requests: list[dict[str, Any]] = []
        page.on("requestfinished", self._record)

    def _record(self, request) -> None:
        if "/api/" not in request.url:
            return
        response = request.response()
        self.requests.append({"method": request.method, "url": request.url,
                              "headers": request.headers, "body": request.post_data,
                              "status": response.status if response else None})

    def open(self, office: dict[str, Any] | None = None, *, stub: bool = True,
             page: str = "taskpane.html") -> Pane:
        """Load the pane; `office` configures the stand-in (None: no Office.js at all)."""
        # The pages run under the backend's real Content-Security-Policy: record violations.
        self.page.add_init_script(
            "window.__csp = []; document.addEventListener('securitypolicyviolation',"
            " (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));")
        if stub:
            self.page.add_init_script(f"window.__officeConfig = {json.dumps(office or {})};")
            source = (HERE / "office_stub.js").read_text()
            self.page.route(OFFICE_JS_URL, lambda route: route.fulfill(
                status=200, content_type="text/javascript", body=source))
        else:
            # The CDN is out of reach (offline laptop, blocked network): office.js never loads.
            self.page.route(OFFICE_JS_URL, lambda route: route.abort("internetdisconnected"))
        self.page.goto(f"{self.server.url}/addin/{page}")
        return self

    def calls(self, method: str | None = None) -> list[dict[str, Any]]:
        """Office.js calls recorded by the stand-in, optionally of one method."""
        calls = self.page.evaluate("window.__officeCalls || []")
        return [c for c in calls if method is None or c["method"] == method]

    def csp_violations(self) -> list[str]:
        """What the page's Content-Security-Policy blocked so far."""
        return self.page.evaluate("window.__csp")

    def api_requests(self, path_part: str) -> list[dict[str, Any]]:
        """Finished requests to the API whose URL contains `path_part`."""
        return [r for r in self.requests if path_part in r["url"]]


@pytest.fixture(scope="session")
def browser_context(browser) -> Iterator[Any]:
    """One context for the session (a new one costs ~0.4 s); each test gets its own page.

    Tests stay isolated: routes and init scripts are per page, and every test's server has its
    own port, so origin-scoped state (localStorage, permissions) never leaks between tests.
    """
    context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    context.set_default_timeout(10_000)
    yield context
    context.close()


@pytest.fixture
def pane_factory(browser_context, start_server) -> Iterator[Callable[..., Pane]]:
    """pane_factory(server, width=360, height=900, dark=False) -> a Pane on a fresh page."""
    pages = []

    def make(server: LiveServer, width: int = 360, height: int = 900,
             dark: bool = False) -> Pane:
        page = browser_context.new_page()
        page.set_viewport_size({"width": width, "height": height})
        page.emulate_media(color_scheme="dark" if dark else "light")
        pages.append(page)
        return Pane(page, server)

    yield make
    # Set up after start_server, so torn down before it: pages go before the server does.
    for page in pages:
        page.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """test-artifacts/ (gitignored) for screenshots."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
