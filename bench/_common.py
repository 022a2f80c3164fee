"""Shared helpers of the benchmarks: scratch databases on the project's PostGIS, timing, tables."""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from layers import migrate  # noqa: E402
from layers.db import database_url, drop_database, ensure_database, start_embedded, with_dbname  # noqa: E402
from settings import Settings  # noqa: E402


def server_url() -> str:
    """The maintenance database URL of the project's server (the embedded cluster is started if needed)."""
    settings = Settings.from_env()
    url = settings.database_url or start_embedded(settings)
    return with_dbname(url or database_url(settings), "postgres")


def app_role_url(url: str) -> str:
    """The same database for the web server's role urbasig_app, as the server connects (least privilege)."""
    import secrets

    from layers.db import connect, embedded_cluster
    from layers.roles import app_url, set_app_password

    settings = Settings.from_env()
    # the embedded cluster's role keeps its password from var/ (a running `make run` uses it too)
    password = embedded_cluster(settings).app_password() if settings.embedded else secrets.token_urlsafe(18)
    with connect(with_dbname(url, "postgres"), autocommit=True) as conn:
        set_app_password(conn, password)
    return app_url(url, password)


@contextmanager
def scratch_db(name: str, migrated: bool = True):
    """A throwaway database for one measurement."""
    admin = server_url()
    drop_database(admin, name)
    ensure_database(admin, name)
    url = with_dbname(admin, name)
    if migrated:
        migrate.upgrade(url)
    try:
        yield url
    finally:
        drop_database(admin, name)


@contextmanager
def timed(store: list[float]):
    """Append the elapsed seconds of the block to `store`."""
    start = time.perf_counter()
    yield
    store.append(time.perf_counter() - start)


def median(values: list[float]) -> float:
    """Median of a list."""
    return statistics.median(values)


def table(rows: list[list[str]], header: list[str]) -> str:
    """A plain-text table."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    out = [line, "-" * len(line)]
    out += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)


def free_port() -> int:
    """A TCP port free on the loopback now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_group(proc: subprocess.Popen) -> None:
    """Stop a server started in its own process group (gunicorn and its workers): TERM, then KILL after 15 s."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=15)


def start_app(url: str, port: int, log, extra_env: dict[str, str] | None = None) -> subprocess.Popen:
    """The app under gunicorn as `make run` serves it (2 workers × 4 threads) on `url`'s database; its output to `log`."""
    env = {**os.environ, "URBASIG_DATABASE_URL": url, "URBASIG_APP_DATABASE_URL": app_role_url(url),
           "URBASIG_POOL_MAX": "6", "URBASIG_LOG_LEVEL": "WARNING", "URBASIG_PUBLIC_URL": f"http://127.0.0.1:{port}",
           **(extra_env or {})}
    root = Path(__file__).resolve().parent.parent
    return subprocess.Popen([str(root / ".venv" / "bin" / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "2",
                             "--worker-class", "gthread", "--threads", "4", "--log-level", "warning",
                             "app:create_app()"], cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def wait_ready(base: str, proc: subprocess.Popen, log_name: str, seconds: float = 60) -> None:
    """Wait until the server answers /health (or stops: then say where its log is)."""
    import requests

    end = time.time() + seconds
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"le serveur s'est arrêté (voir {log_name})")
        try:
            if requests.get(base + "/health", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise RuntimeError("pas de réponse du serveur")
