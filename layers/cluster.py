"""The embedded PostGIS cluster: initdb, start and stop a private PostgreSQL under a directory.

PostgreSQL refuses to run as root, so when the caller is root the cluster runs as an unprivileged
system user (created if missing). The same code starts the throwaway clusters of the tests.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import secrets
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from gis.errors import ConfigError, DatabaseUnavailable

# Settings suited to a 2-core, 24 GiB machine serving short spatial queries and bulk loads.
SERVER_SETTINGS = {
    "shared_buffers": "512MB",
    "work_mem": "32MB",
    "maintenance_work_mem": "512MB",
    "effective_cache_size": "8GB",
    "max_wal_size": "4GB",
    "checkpoint_timeout": "15min",
    "random_page_cost": "1.1",
    "jit": "off",  # JIT compilation costs more than it saves on millisecond queries
    "max_connections": "100",
}
# Throwaway clusters (tests, benchmarks) trade durability for speed.
THROWAWAY_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


def find_bindir(preferred: Path | None = None) -> Path:
    """Find PostgreSQL's server binaries (the newest /usr/lib/postgresql/N/bin with PostGIS)."""
    if preferred is not None:
        if (preferred / "initdb").exists():
            return preferred
        raise ConfigError(f"URBASIG_PG_BINDIR={preferred} ne contient pas initdb")
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name),
                        reverse=True) if Path("/usr/lib/postgresql").is_dir() else []
    for bindir in candidates:
        version = bindir.parent.name
        if (bindir / "initdb").exists() and Path(f"/usr/share/postgresql/{version}/extension/postgis.control").exists():
            return bindir
    raise ConfigError(
        "PostgreSQL avec PostGIS est introuvable : installez postgresql-15-postgis-3 "
        "(make run le fait), ou donnez une base existante avec URBASIG_DATABASE_URL"
    )


def _ensure_system_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                        "--shell", "/usr/sbin/nologin", name], check=True, capture_output=True)
        return pwd.getpwnam(name)


@dataclass
class Cluster:
    """A PostgreSQL cluster in `root` (data in root/data, sockets in root/run, log in root/log)."""

    root: Path
    port: int
    bindir: Path | None = None
    system_user: str = "urbasig"
    superuser: str = "urbasig"
    throwaway: bool = False
    password_file: Path | None = None
    _runas: list[str] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        self.root = Path(self.root).resolve()
        self.bindir = find_bindir(self.bindir)
        if self.password_file is None:
            self.password_file = self.root.parent / (self.root.name + ".password")
        if os.geteuid() == 0:
            self._runas = ["runuser", "-u", self.system_user, "--"]
            if not self._reachable_by_system_user(self.root.parent):
                # e.g. a checkout under /root: the unprivileged user cannot traverse it.
                digest = hashlib.sha1(str(self.root).encode()).hexdigest()[:12]
                self.root = Path("/var/lib/urbasig") / digest

    @property
    def datadir(self) -> Path:
        """The PGDATA directory."""
        return self.root / "data"

    @property
    def socketdir(self) -> Path:
        """The directory of the Unix socket."""
        return self.root / "run"

    @property
    def logfile(self) -> Path:
        """The server log."""
        return self.root / "log" / "postgresql.log"

    def _reachable_by_system_user(self, path: Path) -> bool:
        _ensure_system_user(self.system_user)
        probe = path
        while not probe.exists():
            probe = probe.parent
        result = subprocess.run([*self._runas, "test", "-x", str(probe)], capture_output=True)
        return result.returncode == 0

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [*self._runas, *args]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if check and result.returncode != 0:
            raise DatabaseUnavailable(
                f"commande PostgreSQL en échec : {' '.join(args[:2])}",
                detail=(result.stderr or result.stdout)[-2000:],
            )
        return result

    @property
    def initialized(self) -> bool:
        """Whether initdb has run."""
        return (self.datadir / "PG_VERSION").exists()

    def password(self) -> str:
        """The superuser's password (created with the cluster, stored beside it, mode 600)."""
        return self.password_file.read_text().strip()

    @property
    def app_password_file(self) -> Path:
        """Where the web server role's password is kept (beside the superuser's, mode 600)."""
        return self.password_file.with_name(self.password_file.name.removesuffix(".password") + ".app-password")

    def app_password(self) -> str:
        """The web server role's password, generated on first use (set in the database by `db start`/`upgrade`)."""
        path = self.app_password_file
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(24) + "\n")
        path.chmod(0o600)
        return path.read_text().strip()

    def init(self) -> None:
        """Create the cluster (initdb) with a random superuser password and our server settings."""
        if self.initialized:
            return
        for sub in (self.root, self.root / "log", self.socketdir):
            sub.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_urlsafe(24)
        self.password_file.parent.mkdir(parents=True, exist_ok=True)
        self.password_file.write_text(secret + "\n")
        self.password_file.chmod(0o600)
        pwfile = self.root / ".initdb-pw"
        pwfile.write_text(secret + "\n")
        if self._runas:
            account = _ensure_system_user(self.system_user)
            for path in (self.root, self.root / "log", self.socketdir, pwfile):
                os.chown(path, account.pw_uid, account.pw_gid)
        self.root.chmod(0o700)
        pwfile.chmod(0o600)
        # A throwaway cluster (the tests') runs with fsync off: its initdb need not sync every file either.
        no_sync = ["--no-sync"] if self.throwaway else []
        try:
            self._run(str(self.bindir / "initdb"), "-D", str(self.datadir), "-U", self.superuser,
                      "-A", "scram-sha-256", f"--pwfile={pwfile}", "-E", "UTF8", "--locale=C.UTF-8", *no_sync)
        finally:
            pwfile.unlink(missing_ok=True)
        settings = dict(SERVER_SETTINGS, **(THROWAWAY_SETTINGS if self.throwaway else {}))
        conf = "\n# urbasig\n" + "".join(f"{k} = '{v}'\n" for k, v in settings.items())
        with open(self.datadir / "postgresql.conf", "a", encoding="utf-8") as handle:
            handle.write(conf)

    def running(self) -> bool:
        """Whether the server is up."""
        if not self.initialized:
            return False
        return self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "status", check=False).returncode == 0

    def start(self) -> None:
        """Start the server on 127.0.0.1:port (init first if needed); a no-op when it runs."""
        self.init()
        if self.running():
            return
        options = f"-c port={self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.socketdir}"
        result = self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-l", str(self.logfile),
                           "-w", "-t", "60", "-o", options, "start", check=False)
        if result.returncode != 0:
            tail = self.logfile.read_text(errors="replace")[-1500:] if self.logfile.exists() else result.stderr
            raise DatabaseUnavailable(
                f"le serveur PostgreSQL intégré n'a pas démarré sur le port {self.port} "
                "(port déjà pris ? changez URBASIG_PG_PORT)", detail=tail)

    def stop(self) -> None:
        """Stop the server (fast shutdown); a no-op when it is not running."""
        if self.running():
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        """Stop and delete the cluster (throwaway clusters)."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
        if self.password_file:
            self.password_file.unlink(missing_ok=True)
            self.app_password_file.unlink(missing_ok=True)

    def standby(self, root: Path, port: int) -> Cluster:
        """A streaming replica of this running cluster under `root`, on `port` (pg_basebackup -R), not started.

        It keeps this cluster's settings and superuser (its password file copied beside it); the connection to the
        primary (primary_conninfo, written by -R) reads a password file inside the replica's directory.
        """
        replica = Cluster(root=root, port=port, bindir=self.bindir, system_user=self.system_user,
                          superuser=self.superuser, throwaway=self.throwaway)
        for sub in (replica.root, replica.root / "log", replica.socketdir):
            sub.mkdir(parents=True, exist_ok=True)
        passfile = replica.root / "primary.pgpass"
        passfile.write_text(f"127.0.0.1:{self.port}:*:{self.superuser}:{self.password()}\n")
        replica.password_file.write_text(self.password() + "\n")
        replica.password_file.chmod(0o600)
        if self._runas:
            account = _ensure_system_user(self.system_user)
            for path in (replica.root, replica.root / "log", replica.socketdir, passfile):
                os.chown(path, account.pw_uid, account.pw_gid)
        replica.root.chmod(0o700)
        passfile.chmod(0o600)
        self._run(str(self.bindir / "pg_basebackup"), "-D", str(replica.datadir), "-R", "-X", "stream", "-c", "fast",
                  "-d", f"host=127.0.0.1 port={self.port} user={self.superuser} passfile={passfile}")
        return replica

    def url(self, dbname: str = "urbasig") -> str:
        """The connection URL of a database of this cluster."""
        return f"postgresql://{self.superuser}:{self.password()}@127.0.0.1:{self.port}/{dbname}"
