"""Typed settings read from the environment (prefix ``URBASIG_``), validated once at start-up."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields, replace
from functools import cached_property
from pathlib import Path
from urllib.parse import urlsplit

from gis.errors import ConfigError

PREFIX = "URBASIG_"


def _read_dotenv(path: Path) -> dict[str, str]:
    """Read KEY=VALUE lines of a .env file (comments and blank lines ignored)."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip('"').strip("'")
    return values


@dataclass(frozen=True)
class Settings:
    """Every setting of the application; build it with :meth:`from_env`."""

    # An existing PostGIS database; when set, the embedded cluster is never touched.
    database_url: str | None = None
    # The web server's own login (role urbasig_app, least privilege); required with database_url. The embedded
    # cluster's is derived (password generated in var/, set by `urbasig db start` / `db upgrade`).
    app_database_url: str | None = None
    # Local state (embedded cluster, session key, development CA): var/ in the working directory, as `make run`
    # and an installed package both expect; never beside the code, which may be a read-only site-packages.
    var_dir: Path = field(default_factory=lambda: Path.cwd() / "var")
    # The open-data downloads' files (layers/open_data.py), kept per dataset version: var/downloads by default.
    downloads_dir: Path | None = None
    # Embedded cluster (used only when database_url is unset).
    pg_port: int = 54329
    pg_bindir: Path | None = None
    pg_system_user: str = "urbasig"
    # Streaming replicas for the public reads (comma-separated URLs of the web role urbasig_app on each replica;
    # README « Passage à l'échelle »): one past read_max_lag_s behind the primary, or down, is skipped; a client
    # that wrote reads from the primary for read_primary_after_write_s; their state is measured every read_check_s.
    database_read_url: str | None = None
    read_max_lag_s: float = 5.0
    read_primary_after_write_s: float = 15.0
    read_check_s: float = 1.0
    # Connection pool of each server process, and how long a request waits for a connection (then 503).
    pool_min: int = 1
    pool_max: int = 8
    pool_timeout_s: float = 10.0
    # Database outage: connect timeout of the pool (s), how long the pool keeps reconnecting in the background
    # before it connects again on demand, how long requests are refused at once after a failed connection, and
    # how long a request waits for a connection while the database is suspect (then 503 with Retry-After).
    pool_connect_timeout_s: int = 2
    pool_reconnect_timeout_s: float = 0.5
    db_breaker_s: float = 1.0
    db_outage_wait_s: float = 1.0
    # Time budget of each request class (s): the statement_timeout of its statements and its overall deadline
    # (then 503 with Retry-After); reads = features, tiles, pages; checks = OGC processes; notes = /notes, /verify.
    # All must end before the HTTP server kills a worker (gunicorn --timeout, URBASIG_WORKER_TIMEOUT_S).
    budget_reads_s: float = 5.0
    budget_checks_s: float = 10.0
    budget_notes_s: float = 20.0
    worker_timeout_s: float = 30.0
    # HTTP server.
    port: int = 5000
    workers: int = 2
    # Threads per worker (gunicorn gthread): requests waiting on PostGIS overlap (a map view asks ~40 tiles at once).
    threads: int = 4
    # Sample territory.
    sample_parcels: int = 20_000
    sample_seed: int = 42
    # Imports.
    import_max_features: int = 5_000_000
    # Instruction: largest land accepted (m²), and whether a plan past public inquiry is applied.
    max_land_area_m2: float = 5_000_000.0
    apply_plans_in_inquiry: bool = False
    # Bounded work per request: vertices of one geometry sent by a caller, of all of a request's geometries,
    # lots (and other pieces) of a subdivision, titles designating one land (past them: 413 with the limit).
    max_vertices: int = 10_000
    max_request_vertices: int = 100_000
    max_lots: int = 2_000
    max_land_refs: int = 50
    # Buildable envelope (instruction/envelope.py): the floor-to-floor height that converts a height in metres into
    # levels, and the area the footprint %, COS and CUS multiply ("gross": the zone part; "net": after the
    # widening strips, reservations and other deductions). Plans do not say; each envelope records both.
    envelope_storey_height_m: float = 3.0
    envelope_ratio_area: str = "gross"
    # …and its own bound of work: a land larger (m²) or with more vertices gets no envelope (a 400 from the process,
    # the map and the CLI; a note says it is not computed). An envelope is a building land's: a large lotissement is
    # a few hectares; the instruction's own limits (URBASIG_MAX_LAND_AREA_M2, _MAX_VERTICES) are far larger.
    envelope_max_area_m2: float = 200_000.0
    envelope_max_vertices: int = 2_000
    # Files dropped on the map (/carte/fichier): an invalid polygon of more vertices is refused (repair it in a GIS),
    # not repaired here (shapely.make_valid is one C call the time budget cannot stop; the repair of smaller ones
    # runs in a child process killed after 2 s).
    upload_max_repair_vertices: int = 2_000
    # Partner layers (/partenaire/couches): the largest file a partner uploads (MiB; past it a French 413) and the
    # most features one version may hold.
    partner_upload_max_mb: int = 20
    partner_max_features: int = 200_000
    # OGC API: origins allowed by CORS ("*" or a comma-separated list; empty = no CORS headers).
    cors_origins: str = ""
    # Vector tiles: keep rendered tiles in the database (shared by every process); off for benchmarks.
    tile_cache: bool = True
    # …and its cap (rows, MiB): past either, the oldest tiles are evicted (empty tiles are never cached).
    tile_cache_max_rows: int = 50_000
    tile_cache_max_mb: int = 256
    # …and in front of it each process's own tiles (MiB, 0 = none), with the layer versions it read, read again
    # once this old (s): a write to a layer reaches every process's tiles within that delay.
    tile_memory_cache_mb: int = 64
    tile_versions_ttl_s: float = 1.0
    # Indicative notes: requests per client and minute (the public service answers ~300 notes a day).
    indicative_per_minute: int = 20
    # Checks (permit, lots, licence) stored for reproducibility: anonymous calls per client and minute (a caller
    # with a partner key is not limited), so anonymous traffic cannot grow check_results without bound.
    checks_per_minute: int = 30
    # Asynchronous jobs (OGC API Processes, `urbasig jobs work`): accepted or running jobs one client may have and
    # jobs waiting in the whole queue (past them: 429, 503); how often the runner looks for work and beats its
    # heart, after how long without a heartbeat a running job's runner is taken for dead (requeued, or failed after
    # jobs_max_attempts runs), and how many days a finished job (and its result) is kept.
    # jobs_max_seconds: the wall-clock limit of one job's run, per process ("a bare number" for every process not
    # named, 120 when none is given): past it the runner stops the job (its statement cancelled), keeps nothing and
    # fails it. A whole-city plan impact takes about a minute at 1,000,000 parcels: 30 minutes leaves it room.
    jobs_per_client: int = 5
    jobs_max_seconds: str = "120,envelope=60,plan-impact=1800"
    jobs_queue_max: int = 100
    jobs_poll_s: float = 2.0
    jobs_heartbeat_s: float = 5.0
    jobs_stale_s: float = 60.0
    jobs_max_attempts: int = 2
    jobs_retention_days: float = 7.0
    # development (the default): with no payment gateway or SMTP configured, the app runs the local test gateway
    # (labelled as a test) and shows outgoing mail on an admin page; production refuses a setup that cannot work
    # (`validate_production`).
    env: str = "development"
    # Official notes: fee, and the shared secret of the payment gateway (HMAC of orders and callbacks). In
    # development, an empty secret is generated once and kept in var/payment_secret (shared by workers and restarts),
    # and an empty gateway URL means the test gateway the app mounts at public_url + /dev/passerelle/pay.
    note_fee_mad: str = "450.00"
    payment_secret: str = ""
    payment_gateway_url: str = ""
    # E-mail (outbox delivered by `urbasig mail-deliver`, which `make run` starts beside the server). No host: in
    # development the mail stays in the outbox (shown on /admin/courriels); production refuses to start.
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_sender: str = "notes@auc.example.ma"
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    # Signs session cookies; when empty, one is generated once and kept in var/secret_key (shared by workers).
    secret_key: str = ""
    # PAdES signing key and certificates (PEM); when empty, a development CA under var/signing (no legal value).
    signing_key: str = ""
    signing_cert: str = ""
    signing_ca: str = ""
    # RFC 3161 time-stamping authority of the signatures and archive timestamps (PAdES B-LTA). Empty: the
    # development TSA (only beside the development CA: in process, and served at /dev/tsa); production requires
    # one. User and password when it asks for HTTP Basic authentication; a timeout per request.
    tsa_url: str = ""
    tsa_user: str = ""
    tsa_password: str = ""
    tsa_ca: str = ""  # PEM root of the TSA's certificate when another authority than URBASIG_SIGNING_CA issued it
    tsa_timeout_s: float = 10.0
    # Public verification of an uploaded note: uploads per address and minute, and the incremental updates a
    # PDF may have (a note has ~3, and 2 more per refresh): past either, refused before any validation.
    verify_uploads_per_minute: int = 10
    verify_max_revisions: int = 32
    # Malformed input: nesting depth of a JSON body, and of a CQL2 filter (parentheses, NOT, CQL2-JSON levels).
    max_json_depth: int = 64
    max_filter_depth: int = 32
    log_level: str = "INFO"
    # Public address of the service: every absolute link (e-mails, payment callback, QR code on the note, OGC
    # links) is built from it, never from the request's Host; https also makes cookies Secure and sends HSTS.
    public_url: str = "http://127.0.0.1:5000"
    # Host names accepted besides the public URL's (comma-separated); any other Host header is a 400.
    allowed_hosts: str = "127.0.0.1,localhost"
    # Web sessions (kept in the database, ended by sign-out) and the limits that protect the accounts: sign-in
    # attempts per account and per address, registrations per address (per hour), guesses of a verification code.
    session_hours: float = 8.0
    signin_per_account_hour: int = 10
    signin_per_address_hour: int = 30
    registrations_per_address_hour: int = 10
    verify_code_attempts: int = 5
    # The browser libraries (MapLibre GL JS, the fonts) installed by `npm ci` from package-lock.json, served by
    # the app under /vendor/ (no CDN): node_modules/ of the checkout by default.
    node_modules: Path = field(default_factory=lambda: Path.cwd() / "node_modules")
    # The Arabic font of the PDF notes (TrueType files); when empty, Noto Sans Arabic and Noto Sans from
    # node_modules/@fontsource (the pages' fonts), merged in memory (notes/arabic.py).
    pdf_arabic_font: str = ""
    pdf_arabic_font_bold: str = ""
    extra: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, dotenv: Path | None = None) -> Settings:
        """Build settings from ``URBASIG_*`` variables (then a .env file), validating each value."""
        env = dict(_read_dotenv(dotenv if dotenv is not None else Path.cwd() / ".env"))
        env.update(os.environ if environ is None else environ)
        values: dict[str, object] = {}
        for f in fields(cls):
            if f.name == "extra":
                continue
            key = PREFIX + f.name.upper()
            if key not in env or env[key] == "":
                continue
            raw = env[key]
            values[f.name] = _convert(key, raw, f.type)
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        """Refuse inconsistent values with a message that says what to fix."""
        if self.database_url is not None and not self.database_url.startswith(("postgresql://", "postgres://")):
            raise ConfigError("URBASIG_DATABASE_URL doit commencer par postgresql:// (ex. postgresql://u:p@hôte/base)")
        if self.app_database_url is not None and not self.app_database_url.startswith(("postgresql://",
                                                                                       "postgres://")):
            raise ConfigError("URBASIG_APP_DATABASE_URL doit commencer par postgresql:// "
                              "(ex. postgresql://urbasig_app:p@hôte/base)")
        self._validate_replicas()
        for name in ("pg_port", "port"):
            value = getattr(self, name)
            if not 1 <= value <= 65535:
                raise ConfigError(f"URBASIG_{name.upper()} doit être un port entre 1 et 65535 (reçu {value})")
        if not 1 <= self.pool_min <= self.pool_max:
            raise ConfigError("il faut 1 ≤ URBASIG_POOL_MIN ≤ URBASIG_POOL_MAX")
        self._validate_time_limits()
        if self.max_land_area_m2 <= 0:
            raise ConfigError("URBASIG_MAX_LAND_AREA_M2 doit être positif")
        self._validate_bounds()
        if self.max_json_depth < 4 or self.max_filter_depth < 2:
            raise ConfigError("il faut URBASIG_MAX_JSON_DEPTH ≥ 4 et URBASIG_MAX_FILTER_DEPTH ≥ 2")
        if not 1.5 <= self.envelope_storey_height_m <= 10 or self.envelope_ratio_area not in ("gross", "net"):
            raise ConfigError("URBASIG_ENVELOPE_STOREY_HEIGHT_M est une hauteur d'étage entre 1,5 et 10 m, "
                              "URBASIG_ENVELOPE_RATIO_AREA vaut gross ou net")
        if self.envelope_max_area_m2 <= 0 or self.envelope_max_vertices < 4:
            raise ConfigError("URBASIG_ENVELOPE_MAX_AREA_M2 doit être positif et URBASIG_ENVELOPE_MAX_VERTICES valoir "
                              "au moins 4")
        if self.sample_parcels < 100:
            raise ConfigError("URBASIG_SAMPLE_PARCELS doit valoir au moins 100")
        check_public_url(self.public_url)
        self._validate_accounts()
        self.validate_production()

    def _validate_accounts(self) -> None:
        """The mode, and the limits that protect the accounts."""
        if self.env not in ("development", "production"):
            raise ConfigError(f"URBASIG_ENV vaut development ou production (reçu « {self.env} »)")
        for name in ("signin_per_account_hour", "signin_per_address_hour",
                     "registrations_per_address_hour", "verify_code_attempts"):
            if getattr(self, name) < 1:
                raise ConfigError(f"URBASIG_{name.upper()} doit valoir au moins 1")
        if self.session_hours <= 0:
            raise ConfigError("URBASIG_SESSION_HOURS doit être positif")

    def validate_production(self) -> None:
        """In production, refuse every setting that would let the service start and then fail (all named at once)."""
        if self.development:
            return
        problems = []
        if not self.secret_key:
            problems.append("URBASIG_SECRET_KEY est vide (clé des cookies de session, la même pour tous les serveurs)")
        if not self.payment_secret:
            problems.append("URBASIG_PAYMENT_SECRET est vide (secret partagé avec la passerelle de paiement : sans lui, "
                            "chaque rappel de paiement serait refusé)")
        if not _is_https_url(self.payment_gateway_url):
            problems.append("URBASIG_PAYMENT_GATEWAY_URL doit être l'adresse https de la passerelle de la banque "
                            f"(reçu « {self.payment_gateway_url} » ; la passerelle de test n'existe qu'en développement)")
        if not self.smtp_host:
            problems.append("URBASIG_SMTP_HOST est vide (serveur d'envoi des courriels : vérification des comptes, "
                            "notes signées)")
        missing = [f"URBASIG_{name.upper()}" for name in ("signing_key", "signing_cert", "signing_ca")
                   if not getattr(self, name)]
        if missing:
            problems.append(f"{', '.join(missing)} : sans clé ni certificats de signature, les notes seraient signées "
                            "par l'autorité de développement (sans valeur légale)")
        else:
            problems += [f"URBASIG_{name.upper()} : fichier introuvable « {getattr(self, name)} »"
                         for name in ("signing_key", "signing_cert", "signing_ca")
                         if not Path(getattr(self, name)).is_file()]
        if not self.tsa_url:
            problems.append("URBASIG_TSA_URL est vide : sans autorité d'horodatage (RFC 3161), les notes n'auraient "
                            "ni date de signature prouvée ni validation à long terme (PAdES B-LTA)")
        if not self.https:
            problems.append(f"URBASIG_PUBLIC_URL doit être en https (reçu « {self.public_url} ») : liens des "
                            "courriels, retour du paiement, cookies Secure")
        if problems:
            raise ConfigError("URBASIG_ENV=production : le service ne peut pas démarrer ainsi ; corrigez :\n- "
                              + "\n- ".join(problems))

    def _validate_replicas(self) -> None:
        """Every read URL a PostgreSQL one; the read-your-writes window longer than the lag a replica may have."""
        for url in self.read_urls:
            if not url.startswith(("postgresql://", "postgres://")):
                raise ConfigError("URBASIG_DATABASE_READ_URL : une ou plusieurs URL postgresql:// séparées par des "
                                  f"virgules (reçu « {mask_password(url)[:80]} »)")
        if min(self.read_max_lag_s, self.read_check_s) <= 0:
            raise ConfigError("URBASIG_READ_MAX_LAG_S et URBASIG_READ_CHECK_S doivent être positifs")
        if self.read_primary_after_write_s <= self.read_max_lag_s + self.read_check_s:
            raise ConfigError("il faut URBASIG_READ_PRIMARY_AFTER_WRITE_S > URBASIG_READ_MAX_LAG_S + "
                              "URBASIG_READ_CHECK_S : sinon un client qui vient d'écrire pourrait relire une réplique "
                              "qui n'a pas encore son écriture")

    @property
    def read_urls(self) -> list[str]:
        """The replicas' URLs (URBASIG_DATABASE_READ_URL split at its commas), none when unset."""
        return [u.strip() for u in (self.database_read_url or "").split(",") if u.strip()]

    def _validate_time_limits(self) -> None:
        """Budgets shorter than the worker timeout; outage delays positive."""
        for name in ("budget_reads_s", "budget_checks_s", "budget_notes_s"):
            if not 0 < getattr(self, name) < self.worker_timeout_s:
                raise ConfigError(f"URBASIG_{name.upper()} doit être positif et inférieur à URBASIG_WORKER_TIMEOUT_S "
                                  f"({self.worker_timeout_s:g} s, le délai après lequel gunicorn arrête un worker)")
        if self.pool_connect_timeout_s < 1 or min(self.pool_reconnect_timeout_s, self.db_breaker_s,
                                                  self.db_outage_wait_s) <= 0:
            raise ConfigError("URBASIG_POOL_CONNECT_TIMEOUT_S, URBASIG_POOL_RECONNECT_TIMEOUT_S, URBASIG_DB_BREAKER_S "
                              "et URBASIG_DB_OUTAGE_WAIT_S doivent être positifs")

    def _validate_bounds(self) -> None:
        """The limits of one request's work and of the tile cache."""
        for name in ("max_vertices", "max_request_vertices", "max_lots", "max_land_refs", "tile_cache_max_rows",
                     "tile_cache_max_mb", "checks_per_minute", "upload_max_repair_vertices", "partner_upload_max_mb",
                     "partner_max_features",
                     "verify_uploads_per_minute", "verify_max_revisions"):
            if getattr(self, name) < 1:
                raise ConfigError(f"URBASIG_{name.upper()} doit valoir au moins 1 (reçu {getattr(self, name)})")
        if self.max_request_vertices < self.max_vertices:
            raise ConfigError("il faut URBASIG_MAX_VERTICES ≤ URBASIG_MAX_REQUEST_VERTICES")
        if self.tile_memory_cache_mb < 0 or not 0 <= self.tile_versions_ttl_s <= 60:
            raise ConfigError("URBASIG_TILE_MEMORY_CACHE_MB doit être positif ou nul (0 : pas de tuiles en mémoire) et "
                              "URBASIG_TILE_VERSIONS_TTL_S compris entre 0 et 60 s")
        self._validate_jobs()

    def _validate_jobs(self) -> None:
        """The bounds of the job queue and the runner's delays."""
        for name in ("jobs_per_client", "jobs_queue_max", "jobs_max_attempts"):
            if getattr(self, name) < 1:
                raise ConfigError(f"URBASIG_{name.upper()} doit valoir au moins 1 (reçu {getattr(self, name)})")
        if min(self.jobs_poll_s, self.jobs_heartbeat_s, self.jobs_retention_days) <= 0:
            raise ConfigError("URBASIG_JOBS_POLL_S, URBASIG_JOBS_HEARTBEAT_S et URBASIG_JOBS_RETENTION_DAYS doivent "
                              "être positifs")
        job_time_limits(self.jobs_max_seconds)
        if self.jobs_stale_s <= 2 * self.jobs_heartbeat_s:
            raise ConfigError("il faut URBASIG_JOBS_STALE_S > 2 × URBASIG_JOBS_HEARTBEAT_S (un exécutant vivant ne "
                              "doit pas être pris pour mort)")

    @property
    def public_base(self) -> str:
        """The public URL without its trailing slash: links are public_base + "/path"."""
        return self.public_url.rstrip("/")

    @property
    def public_host(self) -> str:
        """The host name of the public URL (lower case, no port)."""
        return (urlsplit(self.public_url).hostname or "").lower()

    @property
    def https(self) -> bool:
        """Whether the service is published over https (Secure cookies, HSTS)."""
        return self.public_url.lower().startswith("https://")

    @cached_property
    def host_names(self) -> frozenset[str]:
        """Every Host name the server answers: the public URL's and URBASIG_ALLOWED_HOSTS."""
        extra = {h.strip().lower().strip("[]") for h in self.allowed_hosts.split(",") if h.strip()}
        return frozenset({self.public_host, *extra})

    @property
    def development(self) -> bool:
        """Whether this is a development setup (URBASIG_ENV=development): test gateway, mail shown to the admin."""
        return self.env == "development"

    @property
    def test_gateway(self) -> bool:
        """Whether the app mounts the local test gateway: development with no URBASIG_PAYMENT_GATEWAY_URL."""
        return self.development and not self.payment_gateway_url

    @property
    def download_cache(self) -> Path:
        """Where the open-data downloads are kept: URBASIG_DOWNLOADS_DIR, else var/downloads."""
        return self.downloads_dir or self.var_dir / "downloads"

    @property
    def embedded(self) -> bool:
        """Whether the application runs its own PostGIS cluster under var/."""
        return self.database_url is None

    def with_(self, **changes: object) -> Settings:
        """Return a copy with some values changed (tests, CLI options)."""
        return replace(self, **changes)

    def safe_repr(self) -> dict[str, str]:
        """Settings as strings, with any password masked."""
        out = {}
        for f in fields(self):
            if f.name == "extra":
                continue
            value = getattr(self, f.name)
            if f.name in ("database_url", "app_database_url") and value:
                value = mask_password(value)
            if f.name == "database_read_url" and value:
                value = ",".join(mask_password(url) for url in self.read_urls)
            if f.name in ("payment_secret", "smtp_password", "secret_key", "tsa_password") and value:
                value = "***"
            out[f.name] = str(value)
        return out


DEFAULT_JOB_SECONDS = 120.0
_PROCESS_NAME = re.compile(r"^[a-z][a-z0-9-]*$")


def job_time_limits(text: str) -> dict[str, float]:
    """URBASIG_JOBS_MAX_SECONDS read: "120,envelope=60,plan-impact=1800" → {"*": 120, "envelope": 60, …}.

    A bare number is the limit of every process not named (DEFAULT_JOB_SECONDS when none is given).
    """
    hint = ("URBASIG_JOBS_MAX_SECONDS : des secondes, pour tous les processus ou par processus, séparées par des "
            "virgules (ex. 120,envelope=60,plan-impact=1800)")
    limits: dict[str, float] = {"*": DEFAULT_JOB_SECONDS}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, _, value = item.rpartition("=")
        name = name.strip() or "*"
        if name != "*" and not _PROCESS_NAME.match(name):
            raise ConfigError(f"{hint} : nom de processus illisible « {name[:40]} »")
        try:
            seconds = float(value)
        except ValueError:
            raise ConfigError(f"{hint} : « {item[:40]} » n'est pas un nombre de secondes") from None
        if not 0 < seconds < 86_400:
            raise ConfigError(f"{hint} : « {item[:40]} » doit être positif et inférieur à un jour")
        limits[name] = seconds
    return limits


def check_public_url(url: str) -> None:
    """Refuse a public URL that is not just a scheme and a host (and port): links are built by appending paths."""
    hint = "URBASIG_PUBLIC_URL doit être l'adresse publique du service, schéma et hôte seuls (ex. https://urba.auc.ma)"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a port that is not a number raises here
    except ValueError:
        raise ConfigError(f"{hint} : « {url} » est illisible") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{hint} : schéma http ou https et hôte obligatoires (reçu « {url} »)")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigError(f"{hint} : ni chemin, ni paramètres, ni identifiants (reçu « {url} »)")


def _is_https_url(url: str) -> bool:
    """Whether a URL is https with a host (the browser of an applicant posts the payment order there)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme == "https" and bool(parts.hostname)


def mask_password(url: str) -> str:
    """Hide the password of a database URL."""
    head, sep, tail = url.partition("@")
    if not sep or ":" not in head.split("//", 1)[-1]:
        return url
    scheme, _, creds = head.partition("//")
    user = creds.split(":", 1)[0]
    return f"{scheme}//{user}:***@{tail}"


def _convert(key: str, raw: str, kind: object) -> object:
    kind = str(kind)
    if kind.startswith("bool"):
        if raw.strip().lower() in ("1", "true", "oui", "yes", "on"):
            return True
        if raw.strip().lower() in ("0", "false", "non", "no", "off"):
            return False
        raise ConfigError(f"{key} doit valoir true ou false (reçu {raw!r})")
    try:
        if kind.startswith("int"):
            return int(raw)
        if kind.startswith("float"):
            return float(raw)
        if "Path" in kind:
            return Path(raw).expanduser().resolve()
    except ValueError:
        raise ConfigError(f"{key} doit être un nombre (reçu {raw!r})") from None
    return raw
