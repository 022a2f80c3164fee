"""Time budgets: every request class has one, both its statements' `statement_timeout` and its overall deadline.

A request's `Deadline` (layers/db.py) is checked before each statement. When it passes, one watchdog thread per
process stops the request: it cancels the statement running (the driver raises, DatabaseTimeout), or, when the
request runs pure Python inside an `interruptible()` region (geometry, rules, PDF), raises RequestTimeout in the
request's thread at its next bytecode; anywhere else it only marks the deadline spent, and the next statement,
borrow or region raises. Either way
the answer is a 503 with Retry-After, long before the HTTP server's worker timeout would kill the worker with
every request it holds. One long call into C (a single GEOS operation) cannot be interrupted: the geometry
limits bound those.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time

from flask import Flask, Response, current_app, g, request

from layers.db import Deadline, current_deadline

log = logging.getLogger(__name__)

# First matching prefix wins; anything else is a read (features, tiles, pages, metadata).
REQUEST_CLASSES: tuple[tuple[str, str], ...] = (("/ogc/processes/", "checks"), ("/notes/", "notes"),
                                                ("/verify", "notes"),
                                                # the spaces' pages sign notes (in batches), check passwords, upload
                                                ("/espace/", "notes"), ("/instruction/", "notes"),
                                                ("/signature/", "notes"), ("/partenaire/", "notes"),
                                                ("/admin/", "notes"),
                                                # a download not yet in the cache is built from the whole layer
                                                ("/donnees/", "notes"))


def request_class(path: str) -> str:
    """`reads`, `checks` or `notes`: the time budget class of a path."""
    return next((name for prefix, name in REQUEST_CLASSES if path.startswith(prefix)), "reads")


def budget_s(settings: object, klass: str) -> float:
    """The budget in seconds of a request class (URBASIG_BUDGET_READS_S…)."""
    return float(getattr(settings, f"budget_{klass}_s"))


class Watchdog:
    """One thread that stops the requests whose deadline has passed (each Deadline decides how, see `expire`)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._armed: dict[int, Deadline] = {}  # request thread id -> its deadline
        self._queue: list[tuple[float, int, int]] = []  # (deadline, order, thread id)
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, deadline: Deadline) -> None:
        """Watch the calling thread's request."""
        ident = threading.get_ident()
        with self._cond:
            if self._thread is None or not self._thread.is_alive():  # first use, or a forked process
                self._thread = threading.Thread(target=self._run, name="urbasig-watchdog", daemon=True)
                self._thread.start()
            self._armed[ident] = deadline
            earliest = not self._queue or deadline.at < self._queue[0][0]
            heapq.heappush(self._queue, (deadline.at, next(self._order), ident))
            if earliest:  # otherwise the watchdog already wakes up before this deadline
                self._cond.notify()

    def disarm(self) -> None:
        """Stop watching the calling thread."""
        with self._cond:
            deadline = self._armed.pop(threading.get_ident(), None)
        if deadline is not None:
            deadline.finish()  # withdraws an exception not delivered yet

    def _due(self) -> list[Deadline]:
        """Wait for the next deadlines to pass and take them from the queue."""
        with self._cond:
            while True:
                now = time.monotonic()
                due = []
                while self._queue and self._queue[0][0] <= now:
                    at, _, ident = heapq.heappop(self._queue)
                    deadline = self._armed.get(ident)
                    if deadline is not None and deadline.at == at:
                        due.append(deadline)
                if due:
                    return due
                # at most 20 wake-ups a second: most entries are of requests already finished
                wait = max(0.05, self._queue[0][0] - now) if self._queue else None
                self._cond.wait(timeout=wait)

    def _run(self) -> None:
        while True:
            for deadline in self._due():  # outside the condition's lock: arm() never waits for a log handler
                conn = deadline.expire()
                if conn is not None:  # the statement running ends with QueryCanceled (DatabaseTimeout)
                    threading.Thread(target=_cancel, args=(conn,), daemon=True).start()
                log.warning("délai de %.1f s dépassé : requête arrêtée", deadline.seconds)


def _cancel(conn: object) -> None:
    try:
        conn.cancel_safe(timeout=2)  # type: ignore[attr-defined]
    except Exception as exc:  # a connection already gone: nothing runs any more
        log.info("annulation impossible : %s", exc)


WATCHDOG = Watchdog()


def arm() -> None:
    """Start the request's budget (the first thing a request does)."""
    klass = request_class(request.path)
    deadline = Deadline(budget_s(current_app.config["URBASIG"], klass))
    g.budget_class, g.budget = klass, deadline
    current_deadline.set(deadline)
    WATCHDOG.arm(deadline)


def disarm(response: Response | None = None) -> Response | None:
    """End the request's budget (before the commit, so a commit is never interrupted)."""
    if g.pop("budget", None) is not None:
        WATCHDOG.disarm()
        current_deadline.set(None)
    return response


def statement_timeout_s() -> float:
    """The statement_timeout of the current request's connection: its class's budget."""
    klass = g.get("budget_class") or request_class(request.path)
    return budget_s(current_app.config["URBASIG"], klass)


def init_app(app: Flask) -> None:
    """Arm before every request, disarm after it (the last after_request registered runs first)."""
    app.before_request_funcs.setdefault(None, []).insert(0, arm)
    app.after_request(disarm)
    app.teardown_request(lambda exc: disarm())
