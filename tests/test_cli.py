"""The command line as a planner meets it (issue 11, point 7), against a real PostGIS.

bulk-instruct by commune name, qa of an SDAU, the plans table, mail-deliver's exit code, and no progress bar
drawn into a log.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner

from app import cli
from layers.outbox import queue_mail
from layers.plans import create_plan
from layers.qa import check_plan
from tests import instruction_world as world
from tests.helpers import Inbox, add_commune, box, write_layer


def _run(args: list[str]):
    return CliRunner().invoke(cli, args)


@pytest.fixture
def wconn(conn, db_url, monkeypatch):
    """The hand-built territory (commune ANFA, named "Anfa") plus an empty arrondissement "Maârif"."""
    world.build(conn)
    add_commune(conn, "MAARIF", box(5000, 5000, 100, 100), "Maârif")
    monkeypatch.setenv("URBASIG_DATABASE_URL", db_url)
    return conn


def _csv_rows(text: str) -> list[str]:
    return text.strip().splitlines()[1:]


# ------------------------------------------------------------------------------------- bulk-instruct
@pytest.mark.parametrize("commune", ["ANFA", "Anfa", "anfa", " ANFA "])
def test_bulk_instruct_takes_the_commune_code_or_name(wconn, commune):
    result = _run(["bulk-instruct", commune, "--date", "2015-01-01"])
    assert result.exit_code == 0, result.output
    rows = _csv_rows(result.stdout)
    assert any(",TF 1/T,PA-T-2006,V2,V2-1,800.00,40.00,non" in r for r in rows)
    assert result.stdout == _run(["bulk-instruct", "ANFA", "--date", "2015-01-01"]).stdout


@pytest.mark.parametrize("commune", ["Maârif", "maarif", "MAARIF", "MAÂRIF", "maârif"])
def test_bulk_instruct_ignores_case_and_accents(wconn, commune, tmp_path):
    out = tmp_path / "maarif.csv"
    result = _run(["bulk-instruct", commune, "--out", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stderr)
    assert summary["commune"] == "MAARIF" and summary["parcels"] == 0
    assert out.read_text().startswith("parcel_id,land_ref")


def test_bulk_instruct_refuses_an_unknown_commune(wconn):
    result = _run(["bulk-instruct", "Atlantis"])
    assert result.exit_code == 2
    assert result.stdout == ""
    message = result.stderr.strip()
    assert message.startswith("erreur : commune inconnue : « Atlantis » ; communes connues (nom ou code) :")
    assert "Anfa (ANFA)" in message and "Maârif (MAARIF)" in message


# ------------------------------------------------------------------------------------------ qa on SDAU
@pytest.fixture
def sdau(conn, db_url, monkeypatch):
    """An SDAU whose zones have a 1 m gap, an overlap, and a prescription off its perimeter."""
    plan_id = create_plan(conn, {"code": "SDAU-QA", "kind": "SDAU", "name": "SDAU QA", "status": "homologue",
                                 "status_date": "2010-01-01"})
    conn.execute("UPDATE plans SET perimeter = ST_Multi(ST_GeomFromText(%s, 26191)) WHERE id = %s",
                 (box(0, 0, 100, 50).wkt, plan_id))
    for code, geom in (("UE", box(0, 0, 40, 50)), ("UF", box(41, 0, 59, 50)), ("AG", box(30, 0, 15, 10))):
        conn.execute("INSERT INTO sdau_zones (plan_id, code, label, geom) VALUES (%s, %s, %s, "
                     "ST_Multi(ST_GeomFromText(%s, 26191)))", (plan_id, code, f"zone {code}", geom.wkt))
    conn.execute("INSERT INTO prescriptions (plan_id, kind, geom) VALUES (%s, 'other', ST_GeomFromText(%s, 26191))",
                 (plan_id, box(90, 40, 20, 20).wkt))
    conn.commit()
    monkeypatch.setenv("URBASIG_DATABASE_URL", db_url)
    return "SDAU-QA"


def test_qa_of_an_sdau_checks_its_zones(conn, sdau):
    report = check_plan(conn, sdau)
    assert report.zone_count == 3 and report.kind == "SDAU"
    assert [round(f.area_m2, 3) for f in report.of("gap")] == [40.0]  # 1 m × 50 m minus 1 m × 10 m under AG
    assert sorted(round(f.area_m2, 3) for f in report.of("overlap")) == [40.0, 100.0]
    assert report.of("no_regulation") == []  # SDAU zones carry orientations, not building rules
    assert [round(f.area_m2, 3) for f in report.of("outside_perimeter")] == [300.0]


def test_cli_qa_of_an_sdau(sdau):
    result = _run(["qa", sdau, "--strict"])
    assert result.exit_code == 1, result.output
    assert "3 zone(s) du SDAU" in result.stdout and "trous entre zones : 1" in result.stdout
    assert "chevauchements de zones : 2" in result.stdout and "sans objet pour un SDAU" in result.stdout
    assert "4 problème(s) au total." in result.stdout
    data = json.loads(_run(["qa", sdau, "--json"]).stdout)
    assert data["zones"] == 3 and data["counts"] == {"gap": 1, "overlap": 2, "no_regulation": 0,
                                                     "outside_perimeter": 1, "plans_overlap": 0}


def test_qa_says_when_a_plan_has_no_zones(conn, db_url, monkeypatch):
    create_plan(conn, {"code": "PA-VIDE", "kind": "PA", "name": "vide", "status": "etude", "status_date": "2026-01-01"})
    conn.commit()
    monkeypatch.setenv("URBASIG_DATABASE_URL", db_url)
    result = _run(["qa", "PA-VIDE"])
    assert result.exit_code == 0 and "Aucune zone enregistrée pour ce plan" in result.stdout


# ---------------------------------------------------------------------------------------------- plans
def test_plans_prints_a_header_and_the_dates(wconn):
    result = _run(["plans", "--on", "2021-01-01"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "Versions de plans au 2021-01-01 : 3"
    assert lines[1].split() == ["code", "nature", "statut", "au", "2021-01-01", "depuis", "applicable", "approuvé",
                                "le", "valable", "du", "fin", "acte", "d'approbation", "nom"]
    rows = {line.split()[0]: line.split() for line in lines[2:]}
    assert rows["PA-T-2006"][:9] == ["PA-T-2006", "PA", "remplacé", "2020-01-01", "non", "2006-06-12", "2006-06-12",
                                     "2020-01-01", "Décret"]
    assert rows["PA-T-2020"][:9] == ["PA-T-2020", "PA", "homologué", "2020-01-01", "oui", "2020-01-01", "2020-01-01",
                                     "—", "Décret"]
    assert rows["SDAU-T"][:8] == ["SDAU-T", "SDAU", "homologué", "2000-01-01", "oui", "2000-01-01", "2000-01-01", "—"]
    header = lines[1]
    for line in lines[2:]:  # columns aligned under their heading
        assert line[header.index("depuis")] in "0123456789—" and line[header.index("nom") - 2] == " "


def test_plans_on_a_day_before_a_status(wconn):
    lines = _run(["plans", "--on", "2019-06-01"]).stdout.splitlines()
    row = next(line for line in lines if line.startswith("PA-T-2020"))
    assert row.split()[2:7] == ["en", "enquête", "publique", "2019-01-01", "non"]


# --------------------------------------------------------------------------------------- mail-deliver
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_mail_deliver_fails_with_the_reason_then_succeeds(conn, db_url, monkeypatch):
    port = _free_port()
    monkeypatch.setenv("URBASIG_DATABASE_URL", db_url)
    monkeypatch.setenv("URBASIG_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("URBASIG_SMTP_PORT", str(port))
    mail_id = queue_mail(conn, "demandeur@example.ma", "Votre note", "Veuillez trouver la note.")
    conn.commit()
    down = _run(["mail-deliver"])  # nothing listens on the port
    assert down.exit_code == 1, down.output
    assert down.stdout.strip() == "0 courriel(s) envoyé(s), 1 échec(s)"
    assert down.stderr.startswith(f"échec : courriel n° {mail_id} à demandeur@example.ma (tentative 1) : "
                                  f"serveur SMTP 127.0.0.1:{port} injoignable")
    assert "ConnectionRefusedError" in down.stderr and "nouvel essai plus tard" in down.stderr
    conn.execute("UPDATE outbox SET next_attempt_at = now()")  # skip the back-off wait
    conn.commit()
    controller = Controller(Inbox(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        up = _run(["mail-deliver"])
    finally:
        controller.stop()
    assert up.exit_code == 0 and up.stdout.strip() == "1 courriel(s) envoyé(s), 0 échec(s)" and up.stderr == ""
    nothing = _run(["mail-deliver"])
    assert nothing.exit_code == 0 and nothing.stdout.strip() == "0 courriel(s) envoyé(s), 0 échec(s)"


# ------------------------------------------------------------------------------------------ progress bar
def test_no_progress_bar_when_stderr_is_not_a_terminal(db_url, conn, tmp_path):
    add_commune(conn, "ANFA", box(-100, -100, 400, 400))
    path = write_layer(tmp_path / "p.gpkg", [{"land_ref": "TF 3875/C"}, {"land_ref": "T.3876/C"}],
                       [box(0, 0, 20, 20), box(20, 0, 20, 20)])
    exe = shutil.which("urbasig", path=str(Path(sys.executable).parent)) or "urbasig"
    env = {**os.environ, "URBASIG_DATABASE_URL": db_url}
    done = subprocess.run([exe, "import", str(path), "--layer", "parcels"], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "%|" not in done.stderr and "\r" not in done.stderr and "\r" not in done.stdout  # no bar drawn
    assert "urbasig : lecture de p.gpkg" in done.stdout  # the steps are still printed
    assert done.stdout.splitlines()[-1].strip()  # the summary on a line of its own
    assert conn.execute("SELECT count(*) FROM parcels WHERE land_ref IN ('TF 3875/C', 'TF 3876/C')").fetchone()[0] == 2



def test_demo_accounts_are_made_once_with_random_passwords_that_sign_in(wconn, monkeypatch, tmp_path):
    from layers.accounts import authenticate

    monkeypatch.setenv("URBASIG_VAR_DIR", str(tmp_path))
    assert _run(["demo-accounts"]).exit_code == 0
    lines = (tmp_path / "comptes-demo.txt").read_text(encoding="utf-8").splitlines()
    assert [line.split()[0] for line in lines] == ["instructor", "signatory", "partner", "admin"]
    assert (tmp_path / "comptes-demo.txt").stat().st_mode & 0o077 == 0  # readable by its owner only
    for line in lines:
        role, email, password = line.split()
        assert authenticate(wconn, email, password)["role"] == role
    from layers import partner_layers
    from layers.datasets import PUBLIC

    [layer] = partner_layers.visible_layers(wconn, PUBLIC)  # the demonstration partner's layer, made by its path
    assert layer.organisation == "Commune d'Anfa (démonstration)" and layer.information_layer
    assert layer.current_version == 1 and [a.name for a in layer.attributes] == ["ouvrage", "voie"]
    assert wconn.execute("SELECT count(*) FROM partner_features").fetchone()[0] > 0
    assert wconn.execute("SELECT count(*) FROM audit_log WHERE entity = 'partner_layer'").fetchone()[0] == 3
    again = _run(["demo-accounts"])
    assert again.exit_code == 0 and "0 créé" in again.output and "couche partenaire" not in again.output
    assert len(partner_layers.visible_layers(wconn, PUBLIC)) == 1
    assert (tmp_path / "comptes-demo.txt").read_text(encoding="utf-8").splitlines() == lines  # same passwords
    monkeypatch.setenv("URBASIG_ENV", "production")
    refused = _run(["demo-accounts"])
    assert refused.exit_code != 0
