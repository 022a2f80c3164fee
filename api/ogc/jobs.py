"""OGC API Processes, asynchronous execution (Part 1 1.0): a job accepted for the runner, its status, its results,
its dismissal. Handlers return documents (or raise ours); api/ogc/routes.py serves them.

A job is accepted only after the same checks as a synchronous call (400, 404, 413 then, never a failed job later
for an input that was wrong from the start); `urbasig jobs work` (api/ogc/runner.py) runs it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg

from api.ogc import processes
from gis.errors import InputError, NotFound, UrbasigError
from instruction.engine import Options
from layers import jobs
from layers.provenance import code_version

OGC_EXCEPTIONS = "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/"
RESULTS_REL = "http://www.opengis.net/def/rel/ogc/1.0/results"
JOB_LIST_REL = "http://www.opengis.net/def/rel/ogc/1.0/job-list"


class NoSuchJob(NotFound):
    """No job has this id (or its results were dismissed)."""

    ogc_type = OGC_EXCEPTIONS + "no-such-job"


class ResultNotReady(NotFound):
    """The job has not finished yet."""

    ogc_type = OGC_EXCEPTIONS + "result-not-ready"


class JobFailed(UrbasigError):
    """The results of a failed job: the error its run met, with that error's status and French message."""

    ogc_type = OGC_EXCEPTIONS + "failed"

    def __init__(self, document: dict) -> None:
        super().__init__(str(document.get("description") or "le travail a échoué"))
        self.status = int(document.get("status") or 500)
        self.code = str(document.get("code") or "echec")


OWNER_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32}\.[A-Za-z0-9_-]{22}$")  # 192 random bits . 128-bit HMAC


@dataclass(frozen=True)
class Caller:
    """Who calls, as the jobs table keeps it (keyed hashes, never shown): `client`, whose list shows the job (None:
    an anonymous caller without a job-owner token, whose list is empty); `submitter`, whom the bound counts."""

    client: str | None
    submitter: str


def _keyed(secret: str, who: str) -> str:
    return hmac.new(secret.encode(), who.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:40]


def caller_of(secret: str, address: str, partner_key: str | None = None, account_id: int | None = None,
              owner_token: str | None = None) -> Caller:
    """A partner key, else a staff account, is both the list and the bound; an anonymous caller lists the jobs of
    its own job-owner token (never of its address: every client behind one NAT shares it) and is bounded per
    address."""
    if partner_key:
        return Caller(*[_keyed(secret, f"key:{partner_key}")] * 2)
    if account_id is not None:
        return Caller(*[_keyed(secret, f"account:{account_id}")] * 2)
    client = _keyed(secret, f"owner:{checked_owner_token(secret, owner_token)}") if owner_token else None
    return Caller(client, _keyed(secret, f"addr:{address}"))


def _owner_mac(secret: str, random_part: str) -> str:
    digest = hmac.new(secret.encode(), f"jobs-owner:{random_part}".encode(), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def new_owner_token(secret: str) -> str:
    """A job-owner token for an anonymous caller's first job: random, and signed with the session key, so only
    tokens this service gave are accepted (a guessable one a client chose would share its list with others)."""
    random_part = secrets.token_urlsafe(24)
    return f"{random_part}.{_owner_mac(secret, random_part)}"


def checked_owner_token(secret: str, token: str) -> str:
    """A job-owner token this service made; anything else is a 400 (never a list another client chose)."""
    if not OWNER_TOKEN.match(token) or not hmac.compare_digest(token.split(".")[1],
                                                                _owner_mac(secret, token.split(".")[0])):
        raise InputError("jeton de propriétaire des travaux non reconnu (en-tête X-Jobs-Owner) : renvoyez celui que "
                         "le service a donné à la création d'un travail, ou n'en envoyez aucun")
    return token


def runs_async(pid: str, prefer: str | None) -> bool:
    """Whether this execute request becomes a job: the client prefers it (`Prefer: respond-async`) and the process
    supports it, or the process runs only so (OGC API Processes 1.0, default execution mode)."""
    if pid not in processes.PROCESSES:
        return False  # the synchronous path answers the 404
    control = processes.job_control(pid)
    if "sync-execute" not in control:
        return True
    return prefers_async(prefer) and "async-execute" in control


def prefers_async(prefer: str | None) -> bool:
    """Whether a Prefer header (RFC 7240) asks `respond-async` (among other preferences, any case)."""
    tokens = (part.split(";")[0].split("=")[0].strip().lower() for part in (prefer or "").split(","))
    return "respond-async" in tokens


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z") if value else None


def status_info(base: str, row: dict) -> dict:
    """The OGC statusInfo of a job row."""
    job_id = str(row["id"])
    href = f"{base}/jobs/{job_id}"
    doc: dict[str, object] = {
        "jobID": job_id, "processID": row["process"], "type": "process", "status": row["status"],
        "message": row["message"], "progress": row["progress"], "created": _iso(row["created_at"]),
        "started": _iso(row["started_at"]), "finished": _iso(row["finished_at"]), "updated": _iso(row["updated_at"])}
    links = [{"href": href, "rel": "self", "type": "application/json", "title": "état du travail"},
             {"href": f"{href}?f=html", "rel": "alternate", "type": "text/html", "title": "état du travail (HTML)"},
             {"href": f"{base}/processes/{row['process']}", "rel": "up", "type": "application/json",
              "title": "le processus"}]
    if row["status"] in ("successful", "failed") and row["has_result"]:
        links.append({"href": f"{href}/results", "rel": RESULTS_REL, "type": "application/json",
                      "title": "résultats" if row["status"] == "successful" else "l'erreur du travail"})
    doc["links"] = links
    return {k: v for k, v in doc.items() if v is not None}


def submit(conn: psycopg.Connection, base: str, pid: str, body: object, options: Options, caller: Caller,
           limits: jobs.Limits, owner_token: str | None = None) -> tuple[dict[str, str], dict]:
    """Check the inputs as a synchronous call would, then accept the job: (headers, statusInfo) of the 201.

    An anonymous caller's job is listed for its `owner_token` (its own, or one just made for it: `caller` built with
    it), handed back in the header X-Jobs-Owner (never in a URL: URLs are logged); the statusInfo links the job list.
    """
    if caller.client is None:
        raise ValueError("a job is listed for someone: an anonymous caller needs its job-owner token")
    inputs = processes.checked_inputs(pid, body)
    processes.precheck(conn, pid, inputs, options)
    row = jobs.submit(conn, pid, inputs, caller.client, caller.submitter, limits, code_version())
    headers, info = {"Location": f"{base}/jobs/{row['id']}"}, status_info(base, row)
    if owner_token is not None:
        headers["X-Jobs-Owner"] = owner_token
        info["links"].append({"href": f"{base}/jobs", "rel": JOB_LIST_REL, "type": "application/json",
                              "title": "vos travaux (avec l'en-tête X-Jobs-Owner reçu, ou le cookie du navigateur)"})
    return headers, info


def job_list(conn: psycopg.Connection, base: str, caller: Caller) -> dict:
    """The caller's own jobs (the 100 newest); none for an anonymous caller without its job-owner token."""
    rows = jobs.list_jobs(conn, caller.client) if caller.client is not None else []
    return {"jobs": [status_info(base, row) for row in rows],
            "links": [{"href": f"{base}/jobs", "rel": "self", "type": "application/json", "title": "vos travaux"}]}


def job_status(conn: psycopg.Connection, base: str, job_id: str) -> dict:
    """One job's statusInfo (404 no-such-job when unknown)."""
    try:
        return status_info(base, jobs.get(conn, job_id))
    except NotFound as exc:
        raise NoSuchJob(exc.message) from None


def job_results(conn: psycopg.Connection, job_id: str) -> object:
    """The result of a successful job; an OGC exception otherwise (not ready, failed, dismissed, unknown)."""
    try:
        status, output = jobs.result(conn, job_id)
    except NotFound as exc:
        raise NoSuchJob(exc.message) from None
    if status == "successful":
        return output
    if status == "failed" and isinstance(output, dict):
        raise JobFailed(output)
    if status == "dismissed":
        raise NoSuchJob(f"travail {job_id} annulé : ses résultats ont été supprimés")
    raise ResultNotReady(f"travail {job_id} pas encore terminé ({jobs.MESSAGES.get(status, status)}) : "
                         f"suivez son état sur /ogc/jobs/{job_id}")


def dismiss(conn: psycopg.Connection, base: str, job_id: str) -> dict:
    """Dismiss a job (OGC DELETE /jobs/{jobId}): its statusInfo, now dismissed."""
    try:
        return status_info(base, jobs.dismiss(conn, job_id))
    except NotFound as exc:
        raise NoSuchJob(exc.message) from None


EXPORT_SUFFIX = {"json": "geojson", "csv": "csv", "gpkg": "gpkg"}


def impact_downloads(base: str, job_id: str) -> list[dict]:
    """Links to a plan-impact job's parcels as files (GeoJSON, CSV, GeoPackage)."""
    from layers.impact import FORMATS

    titles = {"json": "parcelles (GeoJSON, WGS 84)", "csv": "parcelles (CSV, géométrie WKT en EPSG:26191)",
              "gpkg": "parcelles (GeoPackage, EPSG:26191)"}
    return [{"href": f"{base}/jobs/{job_id}/results/parcels?f={fmt}", "rel": "enclosure", "type": mime,
             "title": titles[fmt]} for fmt, mime in FORMATS.items()]


def with_downloads(base: str, job_id: str, output: object) -> object:
    """A plan-impact result with its download links (other results as they are)."""
    if isinstance(output, dict) and output.get("schema") == "urbasig/plan-impact/1":
        return {**output, "links": [*output.get("links", []), *impact_downloads(base, job_id)]}
    return output


def job_parcels(conn: psycopg.Connection, job_id: str, fmt: str, crs: str | None) -> tuple[bytes, str, str]:
    """A successful plan-impact job's parcels as a file: (content, media type, file name)."""
    from layers.impact import FORMATS, impact_export

    if fmt not in FORMATS:
        raise InputError(f"format « {fmt[:20]} » inconnu : f=json, f=csv ou f=gpkg")
    output = job_results(conn, job_id)
    if not isinstance(output, dict) or output.get("schema") != "urbasig/plan-impact/1":
        raise NoSuchJob(f"le travail {job_id} n'est pas un calcul d'impact : pas de parcelles à télécharger")
    data = impact_export(conn, int(output["run_id"]), fmt, crs)
    name = f"impact-{output['run_id']}.{EXPORT_SUFFIX[fmt]}"
    return data, FORMATS[fmt], name
