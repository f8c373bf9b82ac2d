"""pytest plugin that runs MLflow's own REST test suites against a Slipway server.

run.sh loads it with ``-p slipway_suite_plugin`` from MLflow's source tree. It

* replaces ``tests.tracking.integration_test_utils._init_server`` (when SERVER=slipway)
  before the test modules import it, so their fixtures start ``slipway server`` instead
  of MLflow's Flask app; the test bodies stay as MLflow wrote them;
* records every HTTP exchange a test makes (through ``requests``, which the MLflow client
  and the tests use) and attaches them to a failing test's report, with the end of the
  server's log, so a failure shows the request and the answer;
* prints passed/failed/skipped per test file and writes ``results.json`` (every failing
  test with its exchanges) into MLFLOW_SUITES_OUT.

Environment (run.sh sets it):
  SERVER            slipway (default: `slipway server` whose default artifact root is the
                    fixture's local folder, not served, as MLflow's helper runs its server);
                    mlflow: MLflow's own helper, unchanged (a Flask server whose artifact root is
                    the fixture's local folder, so the client writes artifacts straight to disk);
                    mlflow-proxied: `mlflow server --serve-artifacts` on the fixture's store, as
                    Slipway works by default (artifacts through the server under mlflow-artifacts:/
                    URIs), to tell which tests depend on that setting
  SLIPWAY_STORE     sqlite (default) or postgresql
  SLIPWAY_CLI       path of Slipway's built CLI (dist/cli/main.js)
  SLIPWAY_NODE      node binary
  SLIPWAY_PSQL      psql binary (PostgreSQL only)
  SLIPWAY_PG_ADMIN_URI  where to create and drop the per-server databases
                    (default postgresql://postgres@127.0.0.1:5432/postgres)
  MLFLOW_SUITES_OUT folder for results.json
  MLFLOW_SUITES_TRACE_ALL=1  also record the exchanges of passing tests in results.json
                    ("traced"), to set a failing test on one server beside the same test on
                    the other
"""

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest

SERVER = os.environ.get("SERVER", "slipway")
STORE = os.environ.get("SLIPWAY_STORE", "sqlite")
PG_ADMIN_URI = os.environ.get(
    "SLIPWAY_PG_ADMIN_URI", "postgresql://postgres@127.0.0.1:5432/postgres"
)
OUT_DIR = os.environ.get("MLFLOW_SUITES_OUT")
TRACE_ALL = os.environ.get("MLFLOW_SUITES_TRACE_ALL") == "1"
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 20
TRACE_BODY_CHARS = 4000

# Exchanges of the running test, and the log file of the server its fixture started.
_exchanges = []
_server_logs = []
_results = {}
_traced = {}
_deselected = {}


# --- starting and stopping a Slipway server ---------------------------------------------


def _psql(sql):
    subprocess.run(
        [os.environ.get("SLIPWAY_PSQL", "psql"), PG_ADMIN_URI, "-v", "ON_ERROR_STOP=1",
         "-q", "-c", sql],
        check=True,
        capture_output=True,
        text=True,
    )


def _log_tail(path, lines=60):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError as e:
        return f"(no server log: {e})"


def _wait_until_answering(proc, url, log_path):
    """Polls GET /health (with urllib, so the probe stays out of the recorded exchanges)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"slipway server exited with code {proc.returncode} before answering; "
                f"its log:\n{_log_tail(log_path)}"
            )
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise RuntimeError(
        f"slipway server did not answer {url}/health within {START_TIMEOUT_S} s; "
        f"its log:\n{_log_tail(log_path)}"
    )


def _stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def _init_slipway_server(backend_uri, root_artifact_uri, extra_env=None, app="mlflow.server:app"):
    """Stands in for MLflow's ``_init_server``: yields the server's URL, as it does.

    ``backend_uri`` names one of MLflow's stores (a FileStore folder or a SQLite file) and
    is not used: every server gets a fresh Slipway store (SQLite under a fresh SLIPWAY_HOME,
    or a fresh PostgreSQL database). ``root_artifact_uri``, a file: URI in both suites,
    becomes the server's default artifact root, not served through it
    (``--default-artifact-root <uri> --no-serve-artifacts``): experiments and runs get
    locations in that folder and the client writes artifacts there itself, as with the
    server MLflow's helper starts (``_MLFLOW_SERVER_ARTIFACT_ROOT``, no ``--serve-artifacts``).
    Slipway's own artifact folder stays under the fresh home.
    """
    import mlflow

    from tests.helper_functions import LOCALHOST, get_safe_port

    if extra_env or app != "mlflow.server:app":
        raise RuntimeError(
            "this test starts MLflow's server with its own settings "
            f"(extra_env={extra_env!r}, app={app!r}); Slipway has no equivalent, "
            "deselect it in test/mlflow-suites/run.sh"
        )
    mlflow.set_tracking_uri(None)
    home = tempfile.mkdtemp(prefix="slipway-suite-")
    log_path = os.path.join(home, "server.log")
    port = get_safe_port()
    url = f"http://{LOCALHOST}:{port}"
    args = [
        os.environ.get("SLIPWAY_NODE", "node"), os.environ["SLIPWAY_CLI"], "server",
        "--host", LOCALHOST, "--port", str(port),
        "--default-artifact-root", root_artifact_uri, "--no-serve-artifacts",
    ]
    # A fresh home, and nothing from the caller's Slipway settings.
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
    env["SLIPWAY_HOME"] = home
    database = proc = log = None
    try:
        if STORE == "postgresql":
            name = f"slipway_suite_{uuid.uuid4().hex[:16]}"
            _psql(f'CREATE DATABASE "{name}"')
            database = name
            base = urllib.parse.urlparse(PG_ADMIN_URI)
            args += ["--backend-store-uri", base._replace(path=f"/{database}").geturl()]
        elif STORE != "sqlite":
            raise RuntimeError(f"SLIPWAY_STORE must be sqlite or postgresql, not {STORE!r}")
        log = open(log_path, "wb")
        proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
        _server_logs.append(log_path)
        _wait_until_answering(proc, url, log_path)
        yield url
    finally:
        if proc is not None:
            _stop(proc)
        if log is not None:
            log.close()
        if database:
            _psql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        shutil.rmtree(home, ignore_errors=True)


@contextlib.contextmanager
def _init_mlflow_proxied_server(backend_uri, root_artifact_uri, extra_env=None,
                                app="mlflow.server:app"):
    """``mlflow server --serve-artifacts`` on the fixture's store; yields its URL."""
    import sys

    import mlflow

    from tests.helper_functions import LOCALHOST, get_safe_port
    from tests.tracking.integration_test_utils import _await_server_up_or_die

    if extra_env or app != "mlflow.server:app":
        raise RuntimeError("this test starts MLflow's server with its own settings; deselect it")
    mlflow.set_tracking_uri(None)
    parsed = urllib.parse.urlparse(root_artifact_uri)
    destination = urllib.parse.unquote(parsed.path) if parsed.scheme == "file" else root_artifact_uri
    port = get_safe_port()
    # Its own session, so stopping it stops the gunicorn workers too.
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", backend_uri,
         "--serve-artifacts", "--artifacts-destination", destination,
         "--host", LOCALHOST, "--port", str(port), "--workers", "1"],
        start_new_session=True,
    )
    try:
        _await_server_up_or_die(port)
        yield f"http://{LOCALHOST}:{port}"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


# --- recording HTTP exchanges -------------------------------------------------------------


def _short(value):
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray)):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            return f"<{len(value)} bytes>"
    if isinstance(value, str):
        return value if len(value) <= TRACE_BODY_CHARS else value[:TRACE_BODY_CHARS] + "…"
    if hasattr(value, "read"):
        return f"<file {getattr(value, 'name', '')}>"
    return value


def _install_request_recorder():
    import requests.sessions

    original = requests.sessions.Session.request
    if getattr(original, "_slipway_suite_recorder", False):
        return

    def request(self, method, url, *args, **kwargs):
        entry = {
            "method": method,
            "url": url,
            "params": kwargs.get("params"),
            "json": kwargs.get("json"),
            "data": _short(kwargs.get("data")),
        }
        _exchanges.append(entry)
        try:
            resp = original(self, method, url, *args, **kwargs)
        except Exception as e:
            entry["error"] = repr(e)
            raise
        entry["status"] = resp.status_code
        if kwargs.get("stream"):
            entry["response"] = "<streamed>"
        else:
            entry["response"] = _short(resp.text)
        return resp

    request._slipway_suite_recorder = True
    requests.sessions.Session.request = request


def _format_exchanges(exchanges):
    lines = []
    for i, e in enumerate(exchanges, 1):
        target = e["url"]
        if e.get("params"):
            target += "  params=" + json.dumps(e["params"], default=str)
        lines.append(f"#{i} {e['method']} {target}")
        if e.get("json") is not None:
            lines.append("   body: " + json.dumps(e["json"], default=str)[:TRACE_BODY_CHARS])
        elif e.get("data") is not None:
            lines.append(f"   data: {e['data']}")
        if "error" in e:
            lines.append(f"   -> {e['error']}")
        else:
            lines.append(f"   -> {e.get('status')} {e.get('response')}")
    return "\n".join(lines)


# --- pytest hooks ---------------------------------------------------------------------------


def pytest_configure(config):
    # MLflow's root conftest.py is loaded by now, so its folder is on sys.path and the
    # test modules, imported later during collection, pick up the replaced helper.
    _install_request_recorder()
    if SERVER == "slipway":
        if not os.environ.get("SLIPWAY_CLI"):
            raise pytest.UsageError("SLIPWAY_CLI must name Slipway's built dist/cli/main.js")
        _replace_helper(_init_slipway_server)
    elif SERVER == "mlflow-proxied":
        _replace_helper(_init_mlflow_proxied_server)
    elif SERVER != "mlflow":
        raise pytest.UsageError(f"SERVER must be slipway, mlflow or mlflow-proxied, not {SERVER!r}")


_replacement = None


def _replace_helper(helper):
    global _replacement
    import tests.tracking.integration_test_utils as utils

    utils._init_server = helper
    _replacement = helper


def pytest_collection_finish(session):
    # Guard: a test module that got MLflow's helper would silently test MLflow's server.
    if _replacement is None:
        return
    for item in session.items:
        helper = getattr(item.module, "_init_server", None)
        if helper is not None and helper is not _replacement:
            raise pytest.UsageError(
                f"{item.module.__name__} imported MLflow's _init_server before it was replaced"
            )


def pytest_deselected(items):
    for item in items:
        path = item.nodeid.split("::")[0]
        _deselected[path] = _deselected.get(path, 0) + 1


def pytest_runtest_setup(item):
    _exchanges.clear()
    _server_logs.clear()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        exchanges = list(_exchanges)
        report.sections.append((f"HTTP exchanges ({SERVER})", _format_exchanges(exchanges)))
        logs = [_log_tail(p) for p in _server_logs if os.path.exists(p)]
        for text in logs:
            report.sections.append((f"{SERVER} server log (end)", text))
        entry = _results.setdefault(item.nodeid, {"outcome": None, "phases": []})
        entry["phases"].append(
            {"when": report.when, "error": report.longreprtext[-6000:],
             "exchanges": exchanges, "server_log": logs}
        )


def pytest_runtest_teardown(item):
    if TRACE_ALL:
        _traced[item.nodeid] = list(_exchanges)


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::")[0]
    entry = _results.setdefault(report.nodeid, {"outcome": None, "phases": []})
    entry["file"] = path
    if report.failed:
        entry["outcome"] = "failed" if report.when == "call" else "error"
    elif report.skipped and entry["outcome"] is None:
        entry["outcome"] = "skipped"
    elif report.when == "call" and report.passed and entry["outcome"] is None:
        entry["outcome"] = "passed"


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    per_file = {}
    for entry in _results.values():
        if "file" not in entry or entry["outcome"] is None:
            continue
        counts = per_file.setdefault(entry["file"], {})
        counts[entry["outcome"]] = counts.get(entry["outcome"], 0) + 1
    store = STORE if SERVER == "slipway" else "MLflow's FileStore and SQLite fixtures"
    terminalreporter.section(f"MLflow suites against {SERVER} ({store})")
    for path in sorted(set(per_file) | set(_deselected)):
        c = per_file.get(path, {})
        terminalreporter.write_line(
            f"{path}: {c.get('passed', 0)} passed, {c.get('failed', 0)} failed, "
            f"{c.get('error', 0)} errors, {c.get('skipped', 0)} skipped, "
            f"{_deselected.get(path, 0)} deselected"
        )
    if OUT_DIR:
        os.makedirs(OUT_DIR, exist_ok=True)
        failing = {k: v for k, v in _results.items() if v["outcome"] in ("failed", "error")}
        with open(os.path.join(OUT_DIR, "results.json"), "w", encoding="utf-8") as f:
            json.dump(
                {"server": SERVER, "store": STORE, "per_file": per_file,
                 "deselected": _deselected, "failing": failing,
                 **({"traced": _traced} if TRACE_ALL else {})},
                f, indent=1, default=str,
            )
        terminalreporter.write_line(
            f"failing tests with their HTTP exchanges: {os.path.join(OUT_DIR, 'results.json')}"
        )
