"""The job runner (`urbasig jobs work`): claims accepted jobs and runs them with the processes' own functions.

Two connections kept for the runner's life, both of the web server's role (least privilege): `control`, in
autocommit, claims, beats the heart and records progress, so a poll sees them at once; `work` runs the process
in one transaction, committed with the job's result (a stored check and its job are written together, or
neither), and is replaced after a cancel. A heartbeat thread keeps `heartbeat_at` fresh even while one long
statement runs; when it finds the job no longer ours (dismissed, or taken for dead), or the runner is told to
stop, it cancels the statement running, and the progress callback stops the work at its next step. Stopping
(TERM, Ctrl-C) gives the job back to the queue without counting a run; so does losing the database.

Each job runs within its process's time limit (URBASIG_JOBS_MAX_SECONDS), enforced as a request's budget is
(api/budget.py): a Deadline watched by the process's watchdog, checked before each statement, the statement running
at the limit cancelled, pure Python work interrupted; each statement also has the limit as its statement_timeout.
A job past its limit is rolled back and failed with a French message (layers/jobs.py timed_out).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import psycopg

from api.budget import WATCHDOG
from api.ogc import processes
from gis.errors import ConfigError, DatabaseTimeout, DatabaseUnavailable, UrbasigError
from instruction.engine import Options
from instruction.findings import canonical_json
from layers import jobs
from layers.db import (
    Deadline,
    cancel_quietly,
    check_least_privilege,
    current_deadline,
    interruptible,
    outage_as_ours,
    rollback_quietly,
)
from settings import DEFAULT_JOB_SECONDS, job_time_limits

log = logging.getLogger(__name__)
Connect = Callable[[bool], psycopg.Connection]  # connect(autocommit)
PURGE_EVERY_S = 600.0


class JobStopped(Exception):
    """The job is no longer this runner's (dismissed, requeued) or the runner is stopping: leave it."""


@dataclass
class RunnerSettings:
    """What the runner reads from the settings."""

    options: Options
    poll_s: float = 2.0
    heartbeat_s: float = 5.0
    stale_s: float = 60.0
    max_attempts: int = 2
    retention_days: float = 7.0
    max_seconds: dict[str, float] = field(default_factory=lambda: {"*": DEFAULT_JOB_SECONDS})

    @classmethod
    def from_settings(cls, settings: object) -> RunnerSettings:
        """From the application settings (URBASIG_JOBS_…); a time limit naming no process is refused."""
        limits = job_time_limits(getattr(settings, "jobs_max_seconds"))  # noqa: B009 - settings is any object
        unknown = sorted(set(limits) - {"*", *processes.PROCESSES})
        if unknown:
            raise ConfigError(f"URBASIG_JOBS_MAX_SECONDS nomme un processus inconnu : {', '.join(unknown)} "
                              f"(processus : {', '.join(processes.PROCESSES)})")
        return cls(Options.from_settings(settings), *(getattr(settings, f"jobs_{n}") for n in (
            "poll_s", "heartbeat_s", "stale_s", "max_attempts", "retention_days")), limits)

    def limit_s(self, pid: str) -> float:
        """The time limit of one job of process `pid`."""
        return self.max_seconds.get(pid, self.max_seconds["*"])


@dataclass
class _Beat:
    """The heartbeat of one running job, in its own thread."""

    control: psycopg.Connection
    work: psycopg.Connection
    job_id: uuid.UUID
    worker: str
    every_s: float
    stop: threading.Event  # the runner's
    lost: threading.Event = field(default_factory=threading.Event)  # the job is no longer ours
    done: threading.Event = field(default_factory=threading.Event)
    cancelled: bool = False  # a cancel was sent: it may land on a later statement, the connection is replaced

    def run(self) -> None:
        next_beat = time.monotonic() + self.every_s
        while not self.done.wait(0.2):  # a stop is seen within 0.2 s, the database is written every every_s
            if self.stop.is_set():
                self._cancel()
                return
            if time.monotonic() >= next_beat:
                if not self._beat():
                    self.lost.set()
                    self._cancel()
                    return
                next_beat = time.monotonic() + self.every_s

    def _beat(self) -> bool:
        try:
            return jobs.heartbeat(self.control, self.job_id, self.worker)
        except DatabaseUnavailable as exc:  # the next beat tries again; a stale job is recovered
            log.warning("battement de cœur du travail %s impossible : %s", self.job_id, exc)
            return True

    def _cancel(self) -> None:
        self.cancelled = True
        complaint = cancel_quietly(self.work)
        if complaint:
            log.info("annulation impossible : %s", complaint)

    def check(self) -> None:
        """Raise JobStopped when the work must stop (between two progress steps)."""
        if self.lost.is_set() or self.stop.is_set():
            raise JobStopped


def worker_name() -> str:
    """This runner's name as jobs.worker records it: host, process, and a tag for each runner of the process."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def run_next(control: psycopg.Connection, work: psycopg.Connection, conf: RunnerSettings, worker: str,
             stop: threading.Event, say: Callable[[str], None]) -> bool | None:
    """Claim the oldest accepted job and run it on `work`: False when none was waiting, None when `work` must be
    replaced (a cancel was sent on it), True otherwise."""
    job = jobs.claim(control, worker)
    if job is None:
        return False
    job_id, pid = job["id"], job["process"]
    started = time.monotonic()
    beat = _Beat(control, work, job_id, worker, conf.heartbeat_s, stop)
    thread = threading.Thread(target=beat.run, name=f"urbasig-job-{job_id}", daemon=True)
    thread.start()
    try:
        outcome = _execute(control, work, job, conf, worker, beat)
    finally:
        beat.done.set()
        thread.join()
    say(f"travail {job_id} ({pid}) : {outcome} en {time.monotonic() - started:.1f} s")
    return None if beat.cancelled else True


@contextmanager
def _time_limit(work: psycopg.Connection, seconds: float) -> Iterator[Deadline]:
    """Run the block within `seconds`, as a request within its budget: the watchdog cancels the statement running
    on `work` when they end, or interrupts the block's `interruptible()` Python work; every statement checks first."""
    deadline = Deadline(seconds)
    deadline.conn = work
    jobs.statement_timeout(work, seconds)
    token = current_deadline.set(deadline)
    WATCHDOG.arm(deadline)
    try:
        yield deadline
    finally:
        WATCHDOG.disarm()
        current_deadline.reset(token)


def _execute(control: psycopg.Connection, work: psycopg.Connection, job: dict, conf: RunnerSettings, worker: str,
             beat: _Beat) -> str:
    """Run one claimed job to its end; returns what became of it (for the runner's line)."""
    job_id, pid = job["id"], job["process"]

    def step(pct: int, message: str) -> None:
        beat.check()
        if not jobs.progress(control, job_id, worker, pct, message):
            beat.lost.set()
            raise JobStopped

    deadline: Deadline | None = None
    try:
        with _time_limit(work, conf.limit_s(pid)) as deadline:
            with interruptible():
                output = processes.run(work, pid, job["inputs"], conf.options, step, str(job_id))
            if beat.lost.is_set():
                raise JobStopped
            finished = jobs.finish(work, job_id, worker, output, dumps=canonical_json)  # checks the limit first
        if finished:
            work.commit()
            return "réussi"
        work.rollback()
        return "annulé pendant le travail"
    except Exception as exc:
        _rollback(work)
        if beat.lost.is_set():
            return "annulé pendant le travail"
        if beat.stop.is_set():
            jobs.give_back(control, job_id, worker)
            return "rendu à la file (arrêt de l'exécutant)"
        if deadline is not None and (deadline.expired or deadline.remaining_s() <= 0):
            error: UrbasigError | None = jobs.timed_out(pid, deadline.seconds)
        elif isinstance(exc, DatabaseUnavailable) and not isinstance(exc, DatabaseTimeout):
            jobs.give_back(control, job_id, worker)  # the database went away, not the job's fault: run it again
            raise
        else:
            error = exc if isinstance(exc, UrbasigError) else None
        if error is None:  # a bug, not the caller's: the traceback goes to the log, the job says where to look
            log.exception("travail %s (%s) : erreur inattendue", job_id, pid)
            error = UrbasigError(f"erreur interne du traitement : l'incident est enregistré sous la référence "
                                 f"{job_id}, réessayez plus tard ou signalez-la")
        jobs.fail(control, job_id, worker, error)
        return f"échec : {error.message}"
    finally:  # a cancel sent at the limit may land on a later statement: the connection is replaced
        beat.cancelled = beat.cancelled or bool(deadline and deadline.cancelled)


def _rollback(work: psycopg.Connection) -> None:
    complaint = rollback_quietly(work)  # a broken connection: the server rolled back already
    if complaint:
        log.info("rollback impossible : %s", complaint)


def maintain(control: psycopg.Connection, conf: RunnerSettings, say: Callable[[str], None], purge: bool) -> None:
    """Recover the jobs of dead runners; now and then, delete the jobs past their retention."""
    recovered = jobs.recover(control, conf.stale_s, conf.max_attempts)
    if recovered["requeued"] or recovered["failed"]:
        say(f"exécutant arrêté en cours de travail : {recovered['requeued']} travail(aux) remis en file, "
            f"{recovered['failed']} en échec (URBASIG_JOBS_MAX_ATTEMPTS)")
    if purge:
        purged = jobs.purge(control, conf.retention_days)
        if purged["jobs"] or purged["runs"]:
            runs = f", {purged['runs']} calcul(s) d'impact non publié(s) avec leurs parcelles" if purged["runs"] else ""
            say(f"{purged['jobs']} travail(aux) terminé(s) depuis plus de {conf.retention_days:g} jour(s) "
                f"supprimé(s){runs}")


@dataclass
class _Session:
    """One connected stretch of a runner: its connections, what it did, when it last purged."""

    connect: Connect
    conf: RunnerSettings
    worker: str
    stop: threading.Event
    say: Callable[[str], None]
    done: int = 0
    purged_at: float = -PURGE_EVERY_S
    job_conn: psycopg.Connection | None = None

    def run(self, control: psycopg.Connection, mode: str) -> bool:
        """Run jobs until the mode says stop (True) or `stop` is set (False)."""
        while not self.stop.is_set():
            purge = time.monotonic() - self.purged_at >= PURGE_EVERY_S
            maintain(control, self.conf, self.say, purge)
            self.purged_at = time.monotonic() if purge else self.purged_at
            if self.job_conn is None or self.job_conn.closed:
                self.job_conn = self.connect(False)
            ran = run_next(control, self.job_conn, self.conf, self.worker, self.stop, self.say)
            if ran is None:
                self.job_conn.close()
            if ran is not False:
                self.done += 1
                if mode == "once":
                    return True
            elif mode != "loop":
                return True
            else:
                self.stop.wait(self.conf.poll_s)
        return False

    def close(self) -> None:
        """Close the work connection (the next stretch opens another)."""
        if self.job_conn is not None:
            self.job_conn.close()
            self.job_conn = None


def work(connect: Connect, conf: RunnerSettings, stop: threading.Event, say: Callable[[str], None],
         mode: str = "drain") -> int:
    """Run jobs: `once` at most one, `drain` until none waits, `loop` until `stop` (polling every poll_s).

    In `loop`, a database outage is waited out, as the mail delivery does. Returns how many jobs were run.
    """
    session, database_lost = _Session(connect, conf, worker_name(), stop, say), False
    while not stop.is_set():
        try:
            with outage_as_ours(), connect(True) as control:
                check_least_privilege(control)  # the web server's role, never the owner
                if database_lost:
                    say("base de données de nouveau joignable")
                database_lost = False
                if session.run(control, mode):
                    break
        except DatabaseUnavailable as exc:
            if mode != "loop":
                raise
            if not database_lost:
                say(f"base de données injoignable ({exc}) : nouvel essai toutes les {conf.poll_s:g} s")
            database_lost = True
            stop.wait(conf.poll_s)
        finally:
            session.close()
    return session.done
