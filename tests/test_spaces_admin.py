"""The admin's space over real HTTP (issue 14, point 5): the dashboard's figures from known audit times, accounts
created, given another role and switched off (its session stops at once), partner keys that work on /ogc then
stop, a plan status recorded through the page, a note's journal, the outgoing mail."""

from __future__ import annotations

import os
import re

import lxml.html
import psycopg
import pytest
import requests
from click.testing import CliRunner

from app import cli, create_app
from layers.accounts import create_account
from layers.db import drop_database, ensure_database, with_dbname
from layers.plans import create_plan, get_plan
from tests.helpers import app_settings, free_port, serve

PASSWORD = "mot de passe solide"
ADMIN = "admin@auc.ma"
DAY1, DAY2, DAY3 = "2026-11-02", "2026-11-03", "2026-11-04"
R1, R2, R3 = "NRU-2026-000901", "NRU-2026-000902", "NRU-2026-000903"
# The audit lines of three requests, at known times (the agency's clock, UTC+1 in November): R1 straight through,
# R2 returned once then resubmitted, R3 only requested.
LINES = [
    (R1, "note.demandee", f"{DAY1} 09:00"), (R1, "note.payee", f"{DAY1} 09:10"), (R1, "note.instruite", f"{DAY1} 09:11"),
    (R1, "note.acceptee", f"{DAY1} 11:11"), (R1, "note.signee", f"{DAY2} 11:11"), (R1, "note.envoyee", f"{DAY2} 11:12"),
    (R2, "note.demandee", f"{DAY1} 10:00"), (R2, "note.payee", f"{DAY1} 10:20"), (R2, "note.instruite", f"{DAY1} 10:23"),
    (R2, "note.retournee", f"{DAY1} 14:23"), (R2, "note.payee", f"{DAY2} 10:00"), (R2, "note.instruite", f"{DAY2} 10:01"),
    (R2, "note.acceptee", f"{DAY2} 16:01"), (R2, "note.signee", f"{DAY3} 16:01"), (R2, "note.envoyee", f"{DAY3} 16:04"),
    (R3, "note.demandee", f"{DAY2} 08:00"),
]
CREATED = {R1: f"{DAY1} 09:00", R2: f"{DAY1} 10:00", R3: f"{DAY2} 08:00"}
STATUS = {R1: "envoyee", R2: "envoyee", R3: "attente_paiement"}


def served(server_url: str, template_name: str, var_dir, name: str, fill, **values: object):
    """A migrated database filled by `fill(conn)` (committed), served over loopback on its public URL (other
    settings: `values`): a generator for a module's fixture, yielding (base URL, database URL, what `fill` returned)."""
    full = f"urbasig_{name}_{os.getpid()}"
    ensure_database(server_url, full, template=template_name)
    url = with_dbname(server_url, full)
    with psycopg.connect(url) as conn:
        filled = fill(conn)
        conn.commit()
    port = free_port()
    app = create_app(app_settings(url, var_dir=var_dir, public_url=f"http://127.0.0.1:{port}", **values))
    server, base = serve(app, port)
    yield base, url, filled
    server.shutdown()
    app.extensions["urbasig.pool"].close()
    drop_database(server_url, full)


def _fill(conn: psycopg.Connection) -> int:
    """An admin, an instructor, a plan in public inquiry, three requests with their history, indicative counts."""
    admin_id, _ = create_account(conn, ADMIN, "Admin Agence", PASSWORD, role="admin", verified=True)
    create_account(conn, "instructeur@auc.ma", "Ines Instructrice", PASSWORD, role="instructor", verified=True)
    applicant_id, _ = create_account(conn, "demandeur@example.ma", "Dina Demandeur", PASSWORD, verified=True)
    create_plan(conn, {"code": "PA-TEST", "kind": "PA", "name": "PA de test", "status": "enquete_publique",
                       "status_date": "2026-01-10"})
    history(conn, applicant_id)
    conn.execute("INSERT INTO usage_daily (day, kind, n) VALUES (%s, 'indicative', 5), (%s, 'indicative', 7)",
                 (DAY1, DAY3))
    return admin_id


@pytest.fixture(scope="module")
def site(server_url, template_name, tmp_path_factory):
    """One database and one server for the module (`_fill`): (base URL, database URL, the admin's id)."""
    yield from served(server_url, template_name, tmp_path_factory.mktemp("var"), "admin", _fill)


def history(conn: psycopg.Connection, applicant_id: int) -> None:
    """The three requests and their audit lines at the times above: the line-stamping trigger is set aside
    meanwhile (the chaining at commit still runs, so the chain stays whole)."""
    for number, created in CREATED.items():
        conn.execute("INSERT INTO note_requests (number, short_code, applicant_id, refs, standing, fee_mad, status, "
                     "created_at) VALUES (%s, %s, %s, %s, 'proprietaire', 100, %s, %s::timestamp AT TIME ZONE "
                     "'Africa/Casablanca')", (number, number[-4:], applicant_id, ["TF 1/C"], STATUS[number], created))
    conn.commit()  # no chaining pending (ALTER TABLE waits for none); chained at each insert from here
    conn.execute("SET CONSTRAINTS ALL IMMEDIATE")
    conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_chain")
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO audit_log (actor, action, entity, entity_id, after, at) VALUES ('agent@auc.ma', "
                        "%s, 'note_request', %s, jsonb_build_object('status', %s::text), %s::timestamp AT TIME ZONE "
                        "'Africa/Casablanca')", [(action, number, action[5:], at) for number, action, at in LINES])
    conn.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_chain")


def signed_in(base: str, email: str, password: str = PASSWORD) -> requests.Session:
    """A browser-like session (Origin of the public URL) signed in as `email`."""
    s = requests.Session()
    s.headers["Origin"] = base
    r = s.post(f"{base}/notes/session", json={"email": email, "password": password}, timeout=30)
    assert r.status_code == 200, r.text
    return s


def page(session: requests.Session, url: str) -> lxml.html.HtmlElement:
    """GET a page (HTML): its parsed tree."""
    r = session.get(url, headers={"Accept": "text/html"}, timeout=30)
    assert r.status_code == 200, (url, r.status_code, r.text[:500])
    return lxml.html.fromstring(r.text)


def submit(session: requests.Session, page_url: str, form_xpath: str, **fields: str) -> requests.Response:
    """Fill a form of a page as a browser does (its hidden fields, the session's token) and post it."""
    tree = page(session, page_url)
    forms = tree.xpath(form_xpath)
    assert forms, (page_url, form_xpath)
    form = forms[0]
    data = {i.get("name"): i.get("value") or "" for i in form.xpath(".//input[@type='hidden']")}
    data.update(fields)
    action = form.get("action")
    return session.post(base_of(page_url) + action, data=data, allow_redirects=False,
                        headers={"Accept": "text/html"}, timeout=30)


def base_of(url: str) -> str:
    """The scheme and host of an URL."""
    return re.match(r"https?://[^/]+", url).group(0)


def follow(session: requests.Session, r: requests.Response) -> lxml.html.HtmlElement:
    """Follow a form's 303 to its page."""
    assert r.status_code == 303, (r.status_code, r.text[:500])
    return page(session, base_of(r.url) + r.headers["Location"])


def flashes(tree: lxml.html.HtmlElement, kind: str) -> str:
    """The text of the page's messages of a kind (ok, ko)."""
    return " ".join(p.text_content() for p in tree.xpath(f"//p[contains(@class, 'flash') and contains(@class, '{kind}')]"))


# ------------------------------------------------------------------------------------------------- dashboard
def test_the_dashboard_draws_the_figures_of_the_period(site):
    base, _, _ = site
    admin = signed_in(base, ADMIN)
    tree = page(admin, f"{base}/admin/?du=2026-11-01&au=2026-11-05")
    requests_fig = tree.xpath("//figure[@id='chart-requests']")[0]
    bars = {b.get("data-label"): b.get("data-value") for b in requests_fig.xpath(".//*[local-name()='rect']")}
    assert bars == {"1/11": "0", "2/11": "2", "3/11": "1", "4/11": "0", "5/11": "0"}
    cells = {r.xpath("th")[0].get("data-value"): r.xpath("td")[0].get("data-value")
             for r in requests_fig.xpath(".//tbody/tr")}
    assert cells["2026-11-02"] == "2" and cells["2026-11-03"] == "1"
    # medians (seconds) and passages of each step, in the table and (hours) in the chart
    steps = tree.xpath("//figure[@id='chart-steps']")[0]
    rows = {r.xpath("th")[0].get("data-value"): [td.get("data-value") for td in r.xpath("td")]
            for r in steps.xpath(".//tbody/tr")}
    assert rows == {"paid_instructed": ["60", "3"], "instructed_reviewed": ["14400", "3"],
                    "accepted_signed": ["86400", "2"], "signed_sent": ["120", "2"], "end_to_end": ["144480", "2"]}
    hours = [b.get("data-value") for b in steps.xpath(".//*[local-name()='rect']")]
    assert hours == ["0.02", "4", "24", "0.03", "40.13"]  # 144 480 s = 40 h 08
    said = [r.xpath("td")[0].text_content() for r in steps.xpath(".//tbody/tr")]
    assert said == ["1 min", "4 h", "1 j", "2 min", "1 j 16 h"]
    assert [v.text for v in steps.xpath(".//*[local-name()='text'][@class='chart-value']")] == said
    indicative = tree.xpath("//figure[@id='chart-indicative']")[0]
    assert {b.get("data-label"): b.get("data-value") for b in indicative.xpath(".//*[local-name()='rect']")} == {
        "1/11": "0", "2/11": "5", "3/11": "0", "4/11": "7", "5/11": "0"}
    returned = tree.xpath("//figure[@id='chart-returned']")[0]
    assert {b.get("data-label"): b.get("data-value") for b in returned.xpath(".//*[local-name()='rect']")} == {
        "2/11": "50", "3/11": "0"}
    assert "33,3\u00a0%" in returned.text_content() and "(1 sur 3)" in returned.text_content()
    svg = returned.xpath(".//*[local-name()='svg']")[0]
    assert svg.get("role") == "img" and svg.xpath("./*[local-name()='title']")[0].text == "Part des demandes retournées"
    # Arabic labels, the same figures
    ar = page(admin, f"{base}/admin/?du=2026-11-01&au=2026-11-05&lang=ar")
    assert ar.get("dir") == "rtl" and "نسبة الطلبات المرجعة" in ar.text_content()


def test_the_dashboard_defaults_to_the_last_30_days_and_says_a_bad_period(site):
    base, _, _ = site
    admin = signed_in(base, ADMIN)
    tree = page(admin, f"{base}/admin/")
    assert len(tree.xpath("//figure[@id='chart-requests']//*[local-name()='rect']")) == 30
    r = admin.get(f"{base}/admin/?du=2026-11-05&au=2026-11-01", headers={"Accept": "text/html"}, timeout=30)
    assert r.status_code == 400 and "doit précéder la fin" in r.text
    r = admin.get(f"{base}/admin/?du=05/11/2026", headers={"Accept": "text/html"}, timeout=30)
    assert r.status_code == 400 and "AAAA-MM-JJ" in r.text


# -------------------------------------------------------------------------------------------------- accounts
def test_accounts_created_given_a_role_and_switched_off(site):
    base, url, admin_id = site
    admin = signed_in(base, ADMIN)
    r = submit(admin, f"{base}/admin/comptes", "//form[@id='new-account']", email="Signa@AUC.ma",
               full_name="Sami Signataire", role="signatory", password=PASSWORD, organisation="")
    tree = follow(admin, r)
    assert "signa@auc.ma" in flashes(tree, "ok")
    row = tree.xpath("//table[@id='accounts']//tr[@data-email='signa@auc.ma']")[0]
    assert row.get("data-role") == "signatory" and row.get("data-state") == "active"
    # a partner needs an organisation: said on the form's page, the typed values kept
    r = submit(admin, f"{base}/admin/comptes", "//form[@id='new-account']", email="part@commune.ma",
               full_name="Pia Partenaire", role="partner", password=PASSWORD, organisation="")
    assert r.status_code == 400 and "doit nommer son organisme" in r.text and 'value="part@commune.ma"' in r.text
    r = submit(admin, f"{base}/admin/comptes", "//form[@id='new-account']", email="part@commune.ma",
               full_name="Pia Partenaire", role="partner", password=PASSWORD, organisation="Commune d'Anfa")
    assert r.status_code == 303
    signatory = signed_in(base, "signa@auc.ma")  # created verified: signs in at once
    assert signatory.get(f"{base}/signature/", allow_redirects=False, timeout=30).status_code == 200
    # another role
    with psycopg.connect(url) as conn:
        signa_id = conn.execute("SELECT id FROM accounts WHERE email = 'signa@auc.ma'").fetchone()[0]
    tree = follow(admin, submit(admin, f"{base}/admin/comptes", f"//form[@action='/admin/comptes/{signa_id}/role']",
                                role="instructor"))
    assert "Rôle changé" in flashes(tree, "ok")
    assert signatory.get(f"{base}/instruction/", allow_redirects=False, timeout=30).status_code == 200
    # switched off: its open session stops at once, signing in is refused
    tree = follow(admin, submit(admin, f"{base}/admin/comptes", f"//form[@action='/admin/comptes/{signa_id}/etat']"))
    assert tree.xpath("//tr[@data-email='signa@auc.ma']")[0].get("data-state") == "disabled"
    r = signatory.get(f"{base}/instruction/", allow_redirects=False, timeout=30)
    assert r.status_code == 303 and r.headers["Location"].startswith("/espace/connexion")
    r = requests.post(f"{base}/notes/session", json={"email": "signa@auc.ma", "password": PASSWORD},
                      headers={"Origin": base}, timeout=30)
    assert r.status_code == 403 and "désactivé" in r.text
    # and on again
    follow(admin, submit(admin, f"{base}/admin/comptes", f"//form[@action='/admin/comptes/{signa_id}/etat']"))
    signed_in(base, "signa@auc.ma")
    with psycopg.connect(url) as conn:
        actions = [r[0] for r in conn.execute("SELECT action FROM audit_log WHERE entity = 'account' AND entity_id = %s "
                                              "AND actor = %s ORDER BY id", (str(signa_id), ADMIN))]
    assert actions == ["compte.cree_par_admin", "compte.role", "compte.desactive", "compte.reactive"]


def test_an_admin_cannot_switch_off_or_demote_themself(site):
    base, url, admin_id = site
    admin = signed_in(base, ADMIN)
    tree = page(admin, f"{base}/admin/comptes")
    assert not tree.xpath(f"//form[@action='/admin/comptes/{admin_id}/etat']")  # no button for one's own account
    data = {"csrf": tree.xpath("//input[@name='csrf']")[0].get("value")}
    for path, fields in ((f"/admin/comptes/{admin_id}/etat", {"etat": "inactif"}),
                         (f"/admin/comptes/{admin_id}/role", {"role": "applicant"})):
        r = admin.post(base + path, data={**data, **fields}, allow_redirects=False, timeout=30)
        assert "propre" in flashes(follow(admin, r), "ko")
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT role, disabled_at FROM accounts WHERE id = %s", (admin_id,)).fetchone()
    assert row == ("admin", None)


# ------------------------------------------------------------------------------------------------------ keys
def test_a_key_created_works_on_ogc_then_revoked_fails(site):
    base, url, _ = site
    admin = signed_in(base, ADMIN)
    r = submit(admin, f"{base}/admin/cles", "//form[@id='new-key']", name="Régie Lydec", organisation="Lydec")
    assert r.status_code == 201 and "no-store" in r.headers["Cache-Control"]
    with psycopg.connect(url) as conn:  # the organisation the key speaks for (its own partner layers)
        assert conn.execute("SELECT organisation FROM api_keys WHERE name = 'Régie Lydec'").fetchone() == ("Lydec",)
    key = lxml.html.fromstring(r.text).xpath("//input[@id='the-key']")[0].get("value")
    assert key.startswith("ubk_")
    assert key not in admin.get(f"{base}/admin/cles", timeout=30).text  # shown once
    ogc = f"{base}/ogc/collections"
    assert requests.get(ogc, headers={"X-API-Key": key}, timeout=30).status_code == 200
    tree = follow(admin, submit(admin, f"{base}/admin/cles", "//form[@class='revoke']"))
    assert "révoquée" in flashes(tree, "ok")
    assert requests.get(ogc, headers={"X-API-Key": key}, timeout=30).status_code == 401
    # the same name again while active: said on the page
    submit(admin, f"{base}/admin/cles", "//form[@id='new-key']", name="Conservation foncière")
    r = submit(admin, f"{base}/admin/cles", "//form[@id='new-key']", name="Conservation foncière")
    assert r.status_code == 409 and "existe déjà" in r.text
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM audit_log WHERE action LIKE 'cle_api.%%' AND actor = %s",
                            (ADMIN,)).fetchone()[0] == 3


# ----------------------------------------------------------------------------------------------------- plans
def test_a_plan_status_recorded_through_the_page(site, monkeypatch):
    base, url, _ = site
    admin = signed_in(base, ADMIN)
    form = "//section[@data-code='PA-TEST']//form[contains(@class, 'plan-status')]"
    r = submit(admin, f"{base}/admin/plans", form, status="homologue", date="2025-12-01", act="", in_force_from="")
    assert r.status_code == 400 and "ne peut être antérieur" in r.text and 'value="2025-12-01"' in r.text
    r = submit(admin, f"{base}/admin/plans", form, status="homologue", date="2026-06-01",
               act="Décret n° 2-26-100", in_force_from="2026-06-15")
    tree = follow(admin, r)
    assert "PA-TEST" in flashes(tree, "ok")
    with psycopg.connect(url) as conn:
        plan = get_plan(conn, "PA-TEST")
        line = conn.execute("SELECT actor, after FROM audit_log WHERE action = 'plan.statut' AND entity_id = 'PA-TEST'"
                            ).fetchone()
    assert (plan["status"], str(plan["approval_date"]), str(plan["valid_from"]), plan["approval_act"]) == (
        "homologue", "2026-06-01", "2026-06-15", "Décret n° 2-26-100")
    assert line[0] == ADMIN and line[1]["in_force_from"] == "2026-06-15"
    monkeypatch.setenv("URBASIG_DATABASE_URL", url)
    out = CliRunner().invoke(cli, ["plans", "--on", "2026-07-01"]).output
    assert re.search(r"PA-TEST\s+PA\s+homologué\s+2026-06-01\s+oui", out), out
    assert tree.xpath("//section[@data-code='PA-TEST']")[0].get("data-status") == "homologue"


# --------------------------------------------------------------------------------------------------- journal
def test_the_journal_lists_the_lines_of_a_note(site):
    base, _, _ = site
    admin = signed_in(base, ADMIN)
    tree = page(admin, f"{base}/admin/journal?numero={R2}")
    actions = [tr.get("data-action") for tr in tree.xpath("//table[@id='trail']/tbody/tr")]
    assert actions == [a for n, a, _ in LINES if n == R2]
    assert "agent@auc.ma" in tree.xpath("//table[@id='trail']")[0].text_content()
    assert tree.xpath("//*[@id='chain-state']")[0].get("data-state") == "ok"  # the server reads the anchor (0019)
    tree = page(admin, f"{base}/admin/journal?entite=plan&id=PA-TEST")
    assert tree.xpath("//table[@id='trail']")  # by entity too
    r = admin.get(f"{base}/admin/journal?entite=secret&id=1", timeout=30)
    assert r.status_code == 400 and "objet inconnu" in r.text


# ------------------------------------------------------------------------------------------------------ mail
def test_the_outbox_page_shows_a_registration_mail(site):
    base, _, _ = site
    r = requests.post(f"{base}/notes/accounts", json={"email": "nouveau@example.ma", "full_name": "Nadia Nouvelle",
                                                      "password": PASSWORD}, headers={"Origin": base}, timeout=30)
    assert r.status_code == 201, r.text
    admin = signed_in(base, ADMIN)
    tree = page(admin, f"{base}/admin/courriels")
    row = [tr for tr in tree.xpath("//table[@id='mail']/tbody/tr") if "nouveau@example.ma" in tr.text_content()][0]
    assert row.get("data-status") == "en_attente" and "Vérifiez votre adresse" in row.text_content()
    message = page(admin, base + row.xpath(".//a[@class='open']")[0].get("href"))
    link = message.xpath("//pre[@id='mail-body']/a")[0].get("href")
    assert link.startswith(f"{base}/notes/accounts/verify?token=")
    assert requests.get(link, headers={"Accept": "text/html"}, timeout=30).status_code == 200  # the link works
