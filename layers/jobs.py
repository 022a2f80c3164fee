"""The jobs table: OGC API Processes jobs accepted by any web worker and executed by `urbasig jobs work`.

A job goes accepted → running → successful | failed, or → dismissed from accepted or running (and from a finished
state: its result is dropped). Each transition is one `UPDATE … WHERE status = …` (and, for the runner's, `worker =
me`), so a runner that lost its job — dismissed, or taken for dead and requeued — learns it from the row count of
its next heartbeat, progress or finish, and writes nothing more. The id is a random UUID: who holds it may poll,
read and dismiss; `client` (a keyed hash of whose list shows the job: a partner key, a staff account, or an
anonymous caller's job-owner token) filters the caller's list, and `submitter` (the key, the account, or for an
anonymous caller its address) bounds how many jobs one client keeps queued. Neither is ever shown.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from gis.errors import DatabaseUnavailable, NotFound, TooManyRequests, UrbasigError

# The CHECK constraint of jobs.status holds exactly these keys (tests/test_jobs.py).
STATUSES = ("accepted", "running", "successful", "failed", "dismissed")
FINISHED = ("successful", "failed", "dismissed")
# The columns of a job's status (never `client`, never `inputs`, never `result`).
STATUS_COLUMNS = ("id, process, status, message, progress, created_at, started_at, finished_at, updated_at, "
                  "(result IS NOT NULL) AS has_result")
MESSAGES = {"accepted": "en attente d'un exécutant", "running": "en cours", "successful": "terminé",
            "dismissed": "annulé : résultats supprimés"}


class QueueFull(UrbasigError):
    """Too many jobs wait in the whole queue: come back later."""

    status = 503
    code = "file-pleine"
    retry_after_s = 60


@dataclass(frozen=True)
class Limits:
    """Accepted or running jobs one client may have, and jobs waiting in the whole queue."""

    per_client: int = 5
    queue: int = 100


def job_uuid(text: str) -> uuid.UUID:
    """The UUID of a job id given in a URL; anything else is an unknown job (404), never a database error."""
    try:
        return uuid.UUID(text)
    except (ValueError, AttributeError, TypeError):
        raise NotFound(f"travail inconnu : « {text[:80]} »") from None


def submit(conn: psycopg.Connection, process: str, inputs: dict, client: str, submitter: str, limits: Limits,
           code_version: str | None = None) -> dict:
    """Accept a job (inputs already validated) within the submitter's and the queue's bounds, listed for `client`;
    returns its status row.

    Call inside a transaction: the lock taken here serialises submissions until it ends, so two requests of the
    same submitter cannot both pass the count.
    """
    conn.execute("SELECT pg_advisory_xact_lock(hashtext('urbasig.jobs.submit'))")
    mine, waiting = conn.execute(
        "SELECT count(*) FILTER (WHERE submitter = %s), count(*) FILTER (WHERE status = 'accepted') FROM jobs "
        "WHERE status IN ('accepted', 'running')", (submitter,)).fetchone()
    if mine >= limits.per_client:
        raise TooManyRequests(f"vous avez déjà {mine} travail(aux) en attente ou en cours (au plus "
                              f"{limits.per_client}, URBASIG_JOBS_PER_CLIENT) : attendez qu'un travail se termine, ou "
                              "annulez-en un (DELETE /ogc/jobs/{id})", retry_after_s=30)
    if waiting >= limits.queue:
        raise QueueFull(f"la file des travaux est pleine ({waiting} en attente, au plus {limits.queue}, "
                        "URBASIG_JOBS_QUEUE_MAX) : réessayez dans quelques minutes")
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "INSERT INTO jobs (id, process, inputs, client, submitter, message, code_version) "
            f"VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING {STATUS_COLUMNS}",  # noqa: S608 - fixed column list
            (uuid.uuid4(), process, Jsonb(inputs), client, submitter, MESSAGES["accepted"], code_version)).fetchone()


def get(conn: psycopg.Connection, job_id: str) -> dict:
    """A job's status row (404 when unknown)."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(f"SELECT {STATUS_COLUMNS} FROM jobs WHERE id = %s",  # noqa: S608 - fixed column list
                          (job_uuid(job_id),)).fetchone()
    if row is None:
        raise NotFound(f"travail inconnu : « {job_id} »")
    return row


def result(conn: psycopg.Connection, job_id: str) -> tuple[str, object]:
    """(status, result) of a job: the process's result when successful, the stored exception when failed."""
    row = conn.execute("SELECT status, result FROM jobs WHERE id = %s", (job_uuid(job_id),)).fetchone()
    if row is None:
        raise NotFound(f"travail inconnu : « {job_id} »")
    return row[0], row[1]


def list_jobs(conn: psycopg.Connection, client: str, limit: int = 100) -> list[dict]:
    """The client's own jobs, newest first (never another client's)."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(f"SELECT {STATUS_COLUMNS} FROM jobs WHERE client = %s "  # noqa: S608 - fixed columns
                           "ORDER BY created_at DESC, id LIMIT %s", (client, limit)).fetchall()


def dismiss(conn: psycopg.Connection, job_id: str) -> dict:
    """Dismiss a job: an accepted one is never run, a running one stops at its runner's next step, a result is
    dropped. A job already dismissed stays so (the same answer again)."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            "UPDATE jobs SET status = 'dismissed', message = %s, result = NULL, error = NULL, progress = NULL, "
            "finished_at = coalesce(finished_at, clock_timestamp()), updated_at = clock_timestamp() "
            f"WHERE id = %s AND status <> 'dismissed' RETURNING {STATUS_COLUMNS}",  # noqa: S608 - fixed columns
            (MESSAGES["dismissed"], job_uuid(job_id))).fetchone()
    return row if row is not None else get(conn, job_id)


def claim(conn: psycopg.Connection, worker: str) -> dict | None:
    """Take the oldest accepted job for `worker` (others skip it), or None; returns id, process, inputs, attempts."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "UPDATE jobs SET status = 'running', worker = %s, attempts = attempts + 1, progress = 0, message = %s, "
            "started_at = clock_timestamp(), updated_at = clock_timestamp(), heartbeat_at = clock_timestamp() "
            "WHERE id = (SELECT id FROM jobs WHERE status = 'accepted' ORDER BY created_at, id LIMIT 1 "
            "            FOR UPDATE SKIP LOCKED) "
            "RETURNING id, process, inputs, attempts", (worker, MESSAGES["running"])).fetchone()


def statement_timeout(conn: psycopg.Connection, seconds: float) -> None:
    """Give each statement of the job's transaction on `conn` at most `seconds` (its time limit; reset at its end)."""
    conn.execute("SELECT set_config('statement_timeout', %s, true)", (str(max(1, int(seconds * 1000))),))


def heartbeat(conn: psycopg.Connection, job_id: uuid.UUID, worker: str) -> bool:
    """Say the runner is alive; False when the job is no longer this runner's (dismissed or requeued).
    A connection that fails is DatabaseUnavailable (the runner tries again at the next beat)."""
    try:
        return conn.execute("UPDATE jobs SET heartbeat_at = clock_timestamp() WHERE id = %s AND status = 'running' "
                            "AND worker = %s", (job_id, worker)).rowcount == 1
    except psycopg.Error as exc:
        raise DatabaseUnavailable("battement de cœur impossible : base injoignable") from exc


def progress(conn: psycopg.Connection, job_id: uuid.UUID, worker: str, pct: int, message: str) -> bool:
    """Record a step (0–100 and what is being done); False when the job is no longer this runner's."""
    pct = max(0, min(99, int(pct)))  # 100 is `finish`'s: a job at 100 % has its result
    return conn.execute("UPDATE jobs SET progress = %s, message = %s, updated_at = clock_timestamp(), "
                        "heartbeat_at = clock_timestamp() "
                        "WHERE id = %s AND status = 'running' AND worker = %s",
                        (pct, message[:300], job_id, worker)).rowcount == 1


def finish(conn: psycopg.Connection, job_id: uuid.UUID, worker: str, output: object, dumps: object = None) -> bool:
    """Store the result of a job still this runner's; False (nothing written) when it was dismissed meanwhile."""
    return conn.execute("UPDATE jobs SET status = 'successful', result = %s, progress = 100, message = %s, "
                        "finished_at = clock_timestamp(), updated_at = clock_timestamp() "
                        "WHERE id = %s AND status = 'running' AND worker = %s",
                        (Jsonb(output, dumps=dumps), MESSAGES["successful"], job_id, worker)).rowcount == 1  # type: ignore[arg-type]


def fail(conn: psycopg.Connection, job_id: uuid.UUID, worker: str, error: UrbasigError) -> bool:
    """Record a failed job with our French message (never a driver's text); False when it was dismissed meanwhile."""
    exception = failure_document(error)
    return conn.execute("UPDATE jobs SET status = 'failed', result = %s, error = %s, message = %s, "
                        "finished_at = clock_timestamp(), updated_at = clock_timestamp() "
                        "WHERE id = %s AND status = 'running' AND worker = %s",
                        (Jsonb(exception), error.message[:2000], f"échec : {error.message}"[:300], job_id,
                         worker)).rowcount == 1


def failure_document(error: UrbasigError) -> dict:
    """The OGC exception a failed job's results answer with (status and code as the same error when synchronous)."""
    return {"type": "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/failed", "status": error.status,
            "code": error.code, "description": error.message}


def give_back(conn: psycopg.Connection, job_id: uuid.UUID, worker: str) -> bool:
    """Put a running job back in the queue without counting the run (its runner is being stopped)."""
    return conn.execute("UPDATE jobs SET status = 'accepted', worker = NULL, attempts = greatest(attempts - 1, 0), "
                        "progress = NULL, message = %s, started_at = NULL, heartbeat_at = NULL, "
                        "updated_at = clock_timestamp() "
                        "WHERE id = %s AND status = 'running' AND worker = %s",
                        (MESSAGES["accepted"], job_id, worker)).rowcount == 1


def recover(conn: psycopg.Connection, stale_s: float, max_attempts: int) -> dict[str, int]:
    """Jobs whose runner stopped beating for `stale_s`: back in the queue, or failed after `max_attempts` runs."""
    rows = conn.execute(
        "UPDATE jobs SET status = CASE WHEN attempts < %(max)s THEN 'accepted' ELSE 'failed' END, worker = NULL, "
        "message = CASE WHEN attempts < %(max)s THEN %(again)s ELSE %(failed)s END, "
        "error = CASE WHEN attempts < %(max)s THEN NULL ELSE %(error)s END, "
        "result = CASE WHEN attempts < %(max)s THEN NULL ELSE %(doc)s END, "
        "finished_at = CASE WHEN attempts < %(max)s THEN NULL ELSE clock_timestamp() END, "
        "started_at = CASE WHEN attempts < %(max)s THEN NULL ELSE started_at END, "
        "progress = CASE WHEN attempts < %(max)s THEN NULL ELSE progress END, updated_at = clock_timestamp() "
        "WHERE status = 'running' AND heartbeat_at < clock_timestamp() - %(stale)s RETURNING status",
        {"max": max_attempts, "stale": timedelta(seconds=stale_s), "again": RUNNER_LOST_AGAIN,
         "failed": f"échec : {RUNNER_LOST}", "error": RUNNER_LOST,
         "doc": Jsonb(failure_document(UrbasigError(RUNNER_LOST)))}).fetchall()
    statuses = [r[0] for r in rows]
    return {"requeued": statuses.count("accepted"), "failed": statuses.count("failed")}


RUNNER_LOST_AGAIN = "en attente d'un exécutant (le précédent s'est arrêté en cours de travail)"
RUNNER_LOST = ("le traitement s'est interrompu plusieurs fois (exécutant arrêté en cours de travail) : soumettez-le "
               "à nouveau, ou signalez-le à l'administrateur du service s'il échoue encore")


# The runs to purge are looked up before their jobs go (a job's deletion sets impact_runs.job_id to NULL), and
# deleted only when there are some: any DELETE on impact_runs bumps its layer version (trigger bump_layer_version,
# statement level), which would empty the plan-impact tiles' cache and change every instruction's data timestamp.
# A run without a job (its job purged or deleted earlier, or a run replaced on the map) goes by its own end; its
# parcels' rows go with it (trigger impact_parcels_cascade, migration 0020). A published run stays whatever its age.
FINISHED_LONG_AGO = "status IN ('successful', 'failed', 'dismissed') AND finished_at < clock_timestamp() - %(keep)s"
STALE_RUNS = f"""
SELECT r.id FROM impact_runs r WHERE NOT r.published
  AND (r.job_id IN (SELECT id FROM jobs WHERE {FINISHED_LONG_AGO})
       OR (r.job_id IS NULL AND coalesce(r.finished_at, r.created_at) < clock_timestamp() - %(keep)s))
"""


def purge(conn: psycopg.Connection, retention_days: float) -> dict[str, int]:
    """Delete the jobs finished more than `retention_days` ago (with their results) and the plan-impact runs that
    are not published, of those jobs or as old; returns how many of each ({"jobs", "runs"})."""
    keep = {"keep": timedelta(days=retention_days)}
    runs = [r[0] for r in conn.execute(STALE_RUNS, keep).fetchall()]
    gone = conn.execute("DELETE FROM impact_runs WHERE id = ANY(%s) AND NOT published",
                        (runs,)).rowcount if runs else 0
    return {"jobs": conn.execute(f"DELETE FROM jobs WHERE {FINISHED_LONG_AGO}", keep).rowcount,  # noqa: S608
            "runs": gone}


class JobTimedOut(UrbasigError):
    """A job ran past its process's time limit (URBASIG_JOBS_MAX_SECONDS): stopped, nothing kept."""

    status = 503
    code = "duree-maximale-depassee"


def timed_out(process: str, seconds: float) -> JobTimedOut:
    """The error of a job stopped at its time limit, in French, saying what to do."""
    what = ("limitez le calcul à une commune (entrée « area »)" if process == "plan-impact"
            else "réduisez la demande (terrain plus petit, moins de sommets)")
    return JobTimedOut(f"durée maximale dépassée : le travail « {process} » a été arrêté après {seconds:g} s "
                       f"(URBASIG_JOBS_MAX_SECONDS) et rien n'en a été enregistré ; {what}, ou demandez à "
                       "l'administrateur du service de relever la limite")
