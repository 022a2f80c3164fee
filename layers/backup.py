"""Backups: one tar holding the database (pg_dump, custom format), the signing material and a manifest.

Layout of the archive (every member's SHA-256 is in the manifest, checked before anything is restored):

    manifest.json      format, date, schema revision, PostgreSQL version, audit head, members and their SHA-256
    database.dump      pg_dump --format=custom of the whole database, run as the owner
    var/secret_key     the session key (when generated under var/, not given by URBASIG_SECRET_KEY)
    var/signing/*.pem  the development CA and signing key (when URBASIG_SIGNING_KEY is not set); a real signing
                       key lives in an HSM or with its custodian and is never copied here: only its certificate
                       and CA are, so restored notes can be verified

The archive holds private keys and personal data: it is written mode 600 and must be stored encrypted.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from gis.errors import ConfigError, InputError, UrbasigError
from layers.cluster import find_bindir
from layers.db import connect, ensure_database, with_dbname
from layers.roles import ensure_roles

FORMAT = "urbasig-backup/1"
DUMP = "database.dump"
SIGNING_FILES = ("ca-cert.pem", "signer-cert.pem", "signer-key.pem",
                 # the development PKI of the long-term signatures (notes/pki.py): CA key, TSA, CRL, revocations
                 "ca-key.pem", "tsa-cert.pem", "tsa-key.pem", "ca.crl", "revoked.txt")


@dataclass(frozen=True)
class Material:
    """The files beside the database that a restored server needs: name in the archive → path on disk."""

    files: dict[str, Path]
    signing: str  # "dev-ca" (key included) or "external" (key kept by its custodian, certificates only)


def material(var_dir: Path, secret_key_set: bool, signing_key: str, signing_cert: str, signing_ca: str) -> Material:
    """What to pack besides the dump, from the settings (paths of the files that exist)."""
    files: dict[str, Path] = {}
    if not secret_key_set and (var_dir / "secret_key").is_file():
        files["var/secret_key"] = var_dir / "secret_key"
    if signing_key:
        for name, value in (("signing/signer-cert.pem", signing_cert), ("signing/ca-cert.pem", signing_ca)):
            if value and Path(value).is_file():
                files[name] = Path(value)
        return Material(files, "external")
    for name in SIGNING_FILES:
        if (var_dir / "signing" / name).is_file():
            files[f"var/signing/{name}"] = var_dir / "signing" / name
    for path in sorted((var_dir / "signing" / "retired").glob("*.pem")):  # retired CAs still vouch for old notes
        files[f"var/signing/retired/{path.name}"] = path
    return Material(files, "dev-ca")


def _libpq_env(url: str) -> tuple[list[str], dict[str, str]]:
    """Connection options for pg_dump/pg_restore: the whole URL (its query too: ?host=/socket, ?sslmode=…) as
    --dbname, the password moved to the environment (never on a command line)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    password = unquote(parts.password or "") or next((v for k, v in query if k == "password"), "")
    netloc = parts.netloc.rpartition("@")[2]
    if parts.username is not None:
        netloc = f"{parts.username}@{netloc}"
    bare = urlunsplit(parts._replace(netloc=netloc, query=urlencode([(k, v) for k, v in query if k != "password"])))
    env = dict(os.environ, PGCONNECT_TIMEOUT="10")
    if password:
        env["PGPASSWORD"] = password
    return [f"--dbname={bare}"], env


def _run(cmd: list[str], env: dict[str, str], what: str) -> None:
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise UrbasigError(f"{what} en échec : rien n'a été écrit", detail=result.stderr[-2000:])


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _sha256_of(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def backup(owner_url: str, dest: Path, extra: Material, bindir: Path | None = None) -> dict:
    """Write the archive `dest` (mode 600): the database dumped as the owner, the signing material, a manifest.

    The manifest's audit head is read in the very snapshot pg_dump dumps (exported from a REPEATABLE READ
    transaction kept open while it runs), so lines appended meanwhile are in neither.
    """
    pg_dump = find_bindir(bindir) / "pg_dump"
    args, env = _libpq_env(owner_url)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="urbasig-backup-") as tmp, connect(owner_url) as conn:
        dump = Path(tmp) / DUMP
        with conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
            revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()
            server = conn.execute("SHOW server_version").fetchone()[0]
            head = conn.execute("SELECT last_id, last_hash FROM audit_head").fetchone()
            _run([str(pg_dump), "--format=custom", "--file", str(dump), f"--snapshot={snapshot}", *args], env,
                 "pg_dump")
        files = {DUMP: dump} | dict(extra.files)
        manifest = {"format": FORMAT, "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "revision": revision[0] if revision else None, "postgresql": server, "signing": extra.signing,
                    "audit_head": {"id": head[0], "sha256": head[1]} if head else None,
                    "files": {name: _sha256_of(path) for name, path in files.items()}}
        partial = dest.with_name(dest.name + ".partiel")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        now = int(datetime.now(UTC).timestamp())
        with os.fdopen(fd, "wb") as handle, tarfile.open(fileobj=handle, mode="w") as tar:
            described = json.dumps(manifest, indent=2).encode()
            info = tarfile.TarInfo("manifest.json")
            info.size, info.mode, info.mtime = len(described), 0o600, now
            tar.addfile(info, io.BytesIO(described))
            for name, path in files.items():  # streamed from disk: the dump is never held in memory
                info = tarfile.TarInfo(name)
                info.size, info.mode, info.mtime = path.stat().st_size, 0o600, now
                with open(path, "rb") as member:
                    tar.addfile(info, member)
        partial.replace(dest)  # a backup cut short never looks like a whole one
    return manifest


def read_archive(path: Path, dump_to: Path) -> tuple[dict, dict[str, bytes]]:
    """The manifest and members of an archive, every member checked against its SHA-256.

    The dump is streamed to `dump_to` (never held in memory); the other, small members are returned.
    """
    members: dict[str, bytes] = {}
    digests: dict[str, str] = {}
    try:
        with tarfile.open(path, mode="r:") as tar:
            for info in tar:
                if not info.isfile() or info.name.startswith("/") or ".." in info.name.split("/"):
                    raise InputError(f"sauvegarde refusée : entrée inattendue « {info.name} »")
                source = tar.extractfile(info)
                assert source is not None  # a regular file
                if info.name == DUMP:
                    digest = hashlib.sha256()
                    with open(dump_to, "wb") as out:
                        while chunk := source.read(1 << 20):
                            digest.update(chunk)
                            out.write(chunk)
                    digests[DUMP] = digest.hexdigest()
                else:
                    members[info.name] = source.read()
                    digests[info.name] = _sha256(members[info.name])
    except (tarfile.TarError, OSError) as exc:
        raise InputError(f"« {path} » n'est pas une sauvegarde urbasig lisible") from exc
    try:
        manifest = json.loads(members.pop("manifest.json"))
        digests.pop("manifest.json")
    except (KeyError, ValueError) as exc:
        raise InputError("sauvegarde refusée : manifest.json absent ou illisible") from exc
    if manifest.get("format") != FORMAT:
        raise InputError(f"sauvegarde refusée : format {manifest.get('format')!r} inconnu (attendu {FORMAT})")
    expected = manifest.get("files", {})
    if set(expected) != set(digests) or DUMP not in digests:
        raise InputError("sauvegarde refusée : les fichiers ne correspondent pas au manifeste")
    for name, digest in digests.items():
        if digest != expected[name]:
            raise InputError(f"sauvegarde refusée : « {name} » est altéré (empreinte SHA-256 différente)")
    return manifest, members


def _placed(name: str, var_dir: Path) -> Path | None:
    """Where a member goes on restore: var/… under var_dir; an external certificate stays where it is."""
    return var_dir / name.removeprefix("var/") if name.startswith("var/") else None


def restore(archive: Path, owner_url: str, var_dir: Path, bindir: Path | None = None) -> dict:
    """Restore an archive into an empty database (created if missing), roles first, then var/'s files."""
    with tempfile.TemporaryDirectory(prefix="urbasig-restore-") as tmp:
        dump = Path(tmp) / DUMP
        manifest, members = read_archive(archive, dump)
        targets = {name: _placed(name, var_dir) for name in members}
        for name, target in targets.items():
            if target is not None and target.exists() and target.read_bytes() != members[name]:
                raise ConfigError(f"{target} existe déjà et diffère de la sauvegarde : déplacez-le avant de restaurer")
        dbname = urlsplit(owner_url).path.lstrip("/")
        ensure_database(with_dbname(owner_url, "postgres"), dbname)
        with connect(owner_url, autocommit=True) as conn:
            used = conn.execute("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                                "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S') AND NOT EXISTS "
                                "(SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')").fetchone()[0]
            if used:
                raise InputError(f"la base « {dbname} » n'est pas vide ({used} objet(s)) : restaurez dans une base "
                                 "neuve")
            ensure_roles(conn)  # cluster-wide: the dump's grants name them
        args, env = _libpq_env(owner_url)
        _run([str(find_bindir(bindir) / "pg_restore"), "--no-owner", "--exit-on-error", "--single-transaction",
              *args, str(dump)], env, "pg_restore")
    for name, target in targets.items():
        if target is not None and not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(members[name])
    return manifest
