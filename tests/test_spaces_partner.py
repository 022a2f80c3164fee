"""The partner's space over real HTTP (issue 14, point 4): issued notes found by title (read leniently) or by
number, viewed and downloaded, each in the audit trail with the partner's organisation; a note not yet signed
does not exist for a partner."""

from __future__ import annotations

import psycopg
import pytest
from psycopg.types.json import Jsonb

from layers.accounts import create_account
from tests.test_spaces_admin import PASSWORD, page, served, signed_in

PARTNER = "urbanisme@anfa.ma"
ISSUED, SENT, PENDING = "NRU-2026-000801", "NRU-2026-000802", "NRU-2026-000803"
SIGNED_PDF = b"%PDF-1.7 note signee " + b"x" * 200
PLAN = {"code": "PA-ANFA", "name": "PA d'Anfa", "kind": "PA", "status": "homologue", "status_label": "homologué",
        "approval_act": "Décret n° 2-19-500"}


def _fill(conn: psycopg.Connection) -> None:
    """A partner, an instructor, three requests: one signed, one sent, one accepted and not yet signed."""
    create_account(conn, PARTNER, "Pierre Partenaire", PASSWORD, role="partner", verified=True,
                   organisation="Commune d'Anfa")
    create_account(conn, "instructeur@auc.ma", "Ines", PASSWORD, role="instructor", verified=True)
    applicant, _ = create_account(conn, "amina@example.ma", "Amina Alaoui", PASSWORD, verified=True)
    instruction = Jsonb({"date": "2026-11-20", "plans": {"applied": [PLAN], "sdau": []}})
    for number, status, refs, signed in ((ISSUED, "signee", ["TF 7/T", "TF 8/T"], True),
                                         (SENT, "envoyee", ["TF 8/T"], True),
                                         (PENDING, "acceptee", ["TF 7/T"], False)):
        conn.execute("INSERT INTO note_requests (number, short_code, applicant_id, refs, standing, fee_mad, status, "
                     "instruction, signed_pdf, signed_at) VALUES (%s, %s, %s, %s, 'proprietaire', 100, %s, %s, "
                     "%s, CASE WHEN %s THEN now() END)",
                     (number, "C" + number[-4:], applicant, refs, status, instruction,
                      SIGNED_PDF if signed else None, signed))


@pytest.fixture(scope="module")
def site(server_url, template_name, tmp_path_factory):
    """One database and one server for the module (`_fill`): (base URL, database URL)."""
    for base, url, _ in served(server_url, template_name, tmp_path_factory.mktemp("var"), "partner", _fill):
        yield base, url


def _numbers(tree) -> list[str]:
    return [tr.get("data-number") for tr in tree.xpath("//table[@id='notes']/tbody/tr[@data-number]")]


def test_search_by_title_read_leniently_and_by_number(site):
    base, _ = site
    partner = signed_in(base, PARTNER)
    assert _numbers(page(partner, f"{base}/partenaire/?q=T.F. n° 7/T")) == [ISSUED]  # not the unsigned one
    assert sorted(_numbers(page(partner, f"{base}/partenaire/?q=tf-8-t"))) == [ISSUED, SENT]
    assert _numbers(page(partner, f"{base}/partenaire/?q=nru 2026 802")) == [SENT]
    assert _numbers(page(partner, f"{base}/partenaire/?q={PENDING}")) == []
    tree = page(partner, f"{base}/partenaire/?q=TF 8/T")
    row = tree.xpath(f"//tr[@data-number='{SENT}']")[0]
    assert row.xpath(".//a[@class='view']")[0].get("href") == f"/partenaire/notes/{SENT}"
    assert row.xpath(".//a[@class='download']")[0].get("href") == f"/partenaire/notes/{SENT}.pdf"
    assert "Amina" not in tree.text_content() and "amina@" not in tree.text_content()  # no applicant data
    r = partner.get(f"{base}/partenaire/?q=parcelle du coin", headers={"Accept": "text/html"}, timeout=30)
    assert r.status_code == 400 and "ni un titre ni un numéro de note" in r.text


def test_view_and_download_are_audited_with_the_organisation(site):
    base, url = site
    partner = signed_in(base, PARTNER)
    tree = page(partner, f"{base}/partenaire/notes/{ISSUED}")
    text = tree.text_content()
    assert ISSUED in text and "TF 7/T, TF 8/T" in text and "Décret n° 2-19-500" in text and "PA d'Anfa" in text
    assert tree.xpath("//a[@class='verify']")[0].get("href") == f"{base}/verify/C0801"
    assert "Amina" not in text
    r = partner.get(f"{base}/partenaire/notes/{ISSUED}.pdf", timeout=30)
    assert r.status_code == 200 and r.content == SIGNED_PDF and r.headers["Content-Type"] == "application/pdf"
    with psycopg.connect(url) as conn:
        lines = conn.execute("SELECT actor, action, after FROM audit_log WHERE entity = 'note_request' "
                             "AND entity_id = %s ORDER BY id", (ISSUED,)).fetchall()
    assert [(a, act) for a, act, _ in lines] == [(PARTNER, "partenaire.consultation"),
                                                  (PARTNER, "partenaire.telechargement")]
    assert all(after == {"organisation": "Commune d'Anfa"} for _, _, after in lines)


def test_a_note_not_yet_signed_does_not_exist_for_a_partner(site):
    base, url = site
    partner = signed_in(base, PARTNER)
    for path in (f"/partenaire/notes/{PENDING}", f"/partenaire/notes/{PENDING}.pdf", "/partenaire/notes/NRU-2026-999999"):
        r = partner.get(base + path, headers={"Accept": "text/html"}, timeout=30)
        assert r.status_code == 404 and "note délivrée introuvable" in r.text, path
    with psycopg.connect(url) as conn:  # nothing audited for what was not shown
        assert conn.execute("SELECT count(*) FROM audit_log WHERE entity_id = %s", (PENDING,)).fetchone()[0] == 0
    # and staff of another role do not reach the partner's pages
    instructor = signed_in(base, "instructeur@auc.ma")
    assert instructor.get(f"{base}/partenaire/notes/{ISSUED}", timeout=30).status_code == 403
