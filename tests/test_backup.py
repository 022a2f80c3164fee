"""Backups (issue 12, point 11): `urbasig backup` then `urbasig restore` into a new cluster; every signed note
still verifies there, the audit chain too, and the server's role gets its grants back."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import socket
import tarfile
import tempfile
from pathlib import Path

import psycopg
import pytest
import requests
from click.testing import CliRunner

from app import cli, create_app
from layers.audit import verify_chain
from layers.cluster import Cluster
from layers.roles import set_app_password
from notes.signing import verify_pdf
from tests.helpers import app_settings, serve
from tests.test_official import _applicant, _pay, _request, _session, env  # noqa: F401 - env is a fixture


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def other_cluster():
    """A new, empty throwaway cluster: where the backup is restored."""
    base = Path(tempfile.mkdtemp(prefix="urbasig-restore-"))
    base.chmod(0o755)  # the unprivileged cluster user must traverse it when tests run as root
    cluster = Cluster(root=base / "pg", port=_free_port(), throwaway=True)
    cluster.start()
    yield cluster
    cluster.destroy()
    shutil.rmtree(base, ignore_errors=True)


def _signed_note(base, gateway_url, conn) -> str:
    applicant = _applicant(base, conn)
    req = _request(base, applicant)
    _pay(gateway_url, req["payment"])
    instructor = _session(base, "instructeur@auc.ma")
    assert instructor.post(f"{base}/notes/requests/{req['number']}/review", json={"accept": True, "text": "RAS"},
                           timeout=30).status_code == 200
    assert _session(base, "signataire@auc.ma").post(f"{base}/notes/requests/{req['number']}/sign",
                                                    timeout=60).status_code == 200
    return req["number"]


def _cli(monkeypatch, url: str, var: Path, args: list[str]):
    monkeypatch.setenv("URBASIG_DATABASE_URL", url)
    monkeypatch.setenv("URBASIG_VAR_DIR", str(var))
    return CliRunner().invoke(cli, args)


def test_restored_into_a_new_cluster_signatures_and_audit_chain_verify(env, conn, db_url,  # noqa: F811
                                                                           other_cluster, monkeypatch, tmp_path):
    base, gateway_url, var = env
    number = _signed_note(base, gateway_url, conn)
    original = verify_chain(conn)
    assert original.ok and original.lines > 5
    archive = tmp_path / "sauvegarde.tar"
    done = _cli(monkeypatch, db_url, var, ["backup", str(archive)])
    assert done.exit_code == 0, done.output
    assert archive.stat().st_mode & 0o777 == 0o600  # it holds private keys and personal data
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
        manifest = json.loads(tar.extractfile("manifest.json").read())
    assert names == {"manifest.json", "database.dump", "var/secret_key", "var/signing/ca-cert.pem",
                     "var/signing/signer-cert.pem", "var/signing/signer-key.pem", "var/signing/ca-key.pem",
                     "var/signing/tsa-cert.pem", "var/signing/tsa-key.pem", "var/signing/ca.crl"}
    assert manifest["audit_head"] == {"id": original.head_id, "sha256": original.head_hash}
    assert manifest["revision"] == conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]

    restored_var = tmp_path / "ailleurs" / "var"
    target = other_cluster.url("restauree")
    done = _cli(monkeypatch, target, restored_var, ["restore", str(archive)])
    assert done.exit_code == 0, done.output
    assert (restored_var / "signing" / "signer-key.pem").stat().st_mode & 0o777 == 0o600
    assert (restored_var / "secret_key").read_bytes() == (var / "secret_key").read_bytes()

    ca = restored_var / "signing" / "ca-cert.pem"
    with psycopg.connect(target) as there:
        rows = there.execute("SELECT number, signed_pdf, pdf_sha256, short_code FROM note_requests "
                             "WHERE signed_pdf IS NOT NULL").fetchall()
        assert [r[0] for r in rows] == [number]
        for _, pdf, digest, _ in rows:
            assert hashlib.sha256(bytes(pdf)).hexdigest() == digest
            check = verify_pdf(bytes(pdf), [ca])
            assert check.valid, check
        report = verify_chain(there)
        assert report.ok and (report.lines, report.head_id, report.head_hash) == (
            original.lines, original.head_id, original.head_hash)
        set_app_password(there, "mot-de-passe-restaure")
        there.commit()
    done = _cli(monkeypatch, target, restored_var, ["audit", "verify"])
    assert done.exit_code == 0 and original.head_hash in done.output

    # the restored server runs as its role, with its grants back: public verification of the note works
    app_url = target.replace(f"{other_cluster.superuser}:{other_cluster.password()}@",
                             "urbasig_app:mot-de-passe-restaure@")
    server, restored = serve(create_app(app_settings(target, pool_min=1, pool_max=2, var_dir=restored_var)
                                        .with_(app_database_url=app_url)))
    try:
        answer = requests.get(f"{restored}/verify/{rows[0][3]}", timeout=60).json()
        assert answer["signature_valid"] and answer["number"] == number
    finally:
        server.shutdown()
    with psycopg.connect(app_url) as as_app, pytest.raises(psycopg.errors.InsufficientPrivilege):
        as_app.execute("DELETE FROM audit_log")

    # a second restore over the restored database is refused: restore goes into an empty database only
    again = _cli(monkeypatch, target, tmp_path / "encore", ["restore", str(archive)])
    assert again.exit_code == 2 and "n'est pas vide" in again.output


def test_a_damaged_archive_is_refused_before_anything_is_written(db_url, conn, other_cluster, monkeypatch, tmp_path):
    archive = tmp_path / "s.tar"
    assert _cli(monkeypatch, db_url, tmp_path / "var", ["backup", str(archive)]).exit_code == 0
    with tarfile.open(archive) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    dump = bytearray(members["database.dump"])
    dump[len(dump) // 2] ^= 0xFF
    damaged = tmp_path / "abime.tar"
    with tarfile.open(damaged, "w") as tar:
        for name, data in {**members, "database.dump": bytes(dump)}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    done = _cli(monkeypatch, other_cluster.url("abimee"), tmp_path / "v2", ["restore", str(damaged)])
    assert done.exit_code == 2 and "database.dump" in done.output and "altéré" in done.output
    with psycopg.connect(other_cluster.url("postgres")) as c:
        assert c.execute("SELECT count(*) FROM pg_database WHERE datname = 'abimee'").fetchone()[0] == 0
    not_a_backup = tmp_path / "x.tar"
    not_a_backup.write_bytes(b"rien")
    assert _cli(monkeypatch, other_cluster.url("abimee"), tmp_path / "v3", ["restore", str(not_a_backup)]).exit_code == 2


def test_dump_options_keep_the_urls_query_and_keep_the_password_off_the_command_line():
    from layers.backup import _libpq_env

    args, environment = _libpq_env("postgresql://proprio:s%40cret@/urbasig?host=/run/postgresql&sslmode=require")
    assert args == ["--dbname=postgresql://proprio@/urbasig?host=%2Frun%2Fpostgresql&sslmode=require"]
    assert environment["PGPASSWORD"] == "s@cret" and "cret" not in " ".join(args)
    args, environment = _libpq_env("postgresql://proprio@db.example:6432/urbasig?password=x&sslmode=verify-full")
    assert args == ["--dbname=postgresql://proprio@db.example:6432/urbasig?sslmode=verify-full"]
    assert environment["PGPASSWORD"] == "x"


def test_the_manifests_audit_head_is_the_dumps_and_the_dump_is_streamed(db_url, conn, other_cluster, monkeypatch,
                                                                          tmp_path):
    from pathlib import Path as RealPath
    from urllib.parse import urlsplit

    from layers import backup as backups
    from layers.audit import audit
    from tests.helpers import app_url

    for i in range(3):
        audit(conn, "avant", "essai", "x", str(i), None, None)
    conn.commit()
    run = backups._run

    def appending_run(cmd, environment, what):
        if what == "pg_dump":  # a line committed after the manifest's head was read, before pg_dump starts
            with psycopg.connect(app_url(db_url)) as other:
                audit(other, "pendant", "essai", "x", "4", None, None)
                other.commit()
        return run(cmd, environment, what)

    def no_whole_dump(path, *args, **kwargs):
        assert RealPath(path).name != backups.DUMP, "the dump is read in memory"
        return real_read(path, *args, **kwargs)

    real_read, real_write = RealPath.read_bytes, RealPath.write_bytes
    monkeypatch.setattr(backups, "_run", appending_run)
    monkeypatch.setattr(RealPath, "read_bytes", no_whole_dump)
    monkeypatch.setattr(RealPath, "write_bytes", lambda path, data: (
        no_whole_dump(path), real_write(path, data))[1])
    # host and port in the query string: the dump must connect with the URL as given
    parts = urlsplit(db_url)
    by_query = f"postgresql://{parts.username}:{parts.password}@/{parts.path.lstrip('/')}?host={parts.hostname}" \
               f"&port={parts.port}"
    archive = tmp_path / "s.tar"
    manifest = backups.backup(by_query, archive, backups.Material({}, "dev-ca"))
    target = other_cluster.url("instantane")
    backups.restore(archive, target, tmp_path / "var")
    with psycopg.connect(target) as there:
        report = verify_chain(there)
        assert report.ok and report.lines == 3, report.problems
        assert manifest["audit_head"] == {"id": report.head_id, "sha256": report.head_hash}
    assert verify_chain(conn).lines == 4  # the line written meanwhile is in the database, not in this backup
