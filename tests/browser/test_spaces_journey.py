"""The official note through the five spaces in headless Chromium (issue 14, "Must show"), over the sample territory.

An applicant registers (the verification link read from the mail an SMTP server on loopback received), signs in,
requests a note for two titles with a PDF (the upload's progress seen), pays through the local test gateway and
comes back to an instructed request; an instructor finds it in the queue, sees the land on the map and returns it
with a reason; the applicant reads the reason on the timeline and resubmits with one more document; the
instructor accepts; a signatory signs it from the batch form; the mail with the signed PDF arrives; the applicant
downloads the note (a valid PAdES signature); a partner the admin created finds it by title and downloads it; the
admin sees it on the dashboard and in the journal, the partner's consultation included. Then every space in Arabic
(dir=rtl, no console error). Screenshots of each space, desktop and phone, named spaces-<space>-<width>.png.

One browser, one sample database, one app (module scope); every page fails on a request off 127.0.0.1 and on a
console error (tests/browser/conftest.py).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from aiosmtpd.controller import Controller

from devtools.gateway import create_gateway
from layers.accounts import create_account
from notes.mail import SmtpSettings, deliver_due
from notes.signing import ensure_dev_ca, verify_pdf
from tests.browser.conftest import open_context, shoot, wait_until, watch_page
from tests.helpers import Inbox, app_settings, free_port, serve

SECRET = "secret-passerelle-parcours"
PASSWORD = "mot de passe du parcours"
APPLICANT = ("amina.parcours@example.ma", "Amina Alaoui")
STAFF = {"instructor": ("instructeur.parcours@auc.ma", "Youssef Benali"),
         "signatory": ("signataire.parcours@auc.ma", "Nadia Chraibi"), "admin": ("admin.parcours@auc.ma", "Karim Tazi")}
PARTNER = ("anfa.parcours@commune.ma", "Service de l'urbanisme", "Commune d'Anfa")
PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True}
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
# Two titles of the sample that touch, in one commune, on a zone of a homologated plan: one piece of land.
TWO_TITLES = """
SELECT a.land_ref, b.land_ref FROM parcels a
JOIN parcels b ON b.id > a.id AND b.commune_code = a.commune_code AND b.ref_kind = 'TF' AND ST_Touches(a.geom, b.geom)
WHERE a.ref_kind = 'TF' AND a.land_ref IS NOT NULL AND b.land_ref IS NOT NULL
  AND EXISTS (SELECT 1 FROM zones z JOIN plans pl ON pl.id = z.plan_id AND pl.status = 'homologue'
              WHERE ST_Contains(z.geom, a.geom) AND ST_Contains(z.geom, b.geom))
ORDER BY a.id LIMIT 1"""
# The upload's progress bar, watched from the first paint of every page (the upload on loopback is quick).
WATCH_PROGRESS = """
document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector("form#new-request");
  if (!form) return;
  const seen = () => {
    for (const bar of form.querySelectorAll("progress, [role=progressbar]")) {
      if (bar.offsetParent !== null) window.__progressSeen(bar.value ?? bar.getAttribute("aria-valuenow"));
    }
  };
  new MutationObserver(seen).observe(form, {subtree: true, attributes: true, childList: true});
});
"""


def _pdf(text: str, pad_kb: int = 0) -> bytes:
    """A small PDF document (a comment pads it, so the upload takes a few progress events)."""
    return b"%PDF-1.4\n% " + text.encode() + b"\n%" + b"x" * (pad_kb * 1024) + b"\n%%EOF\n"


@pytest.fixture(scope="module")
def chain(sample_url):
    """The app over the sample with the test gateway, an SMTP server on loopback and the staff accounts."""
    from app import create_app

    var = Path(tempfile.mkdtemp(prefix="urbasig-journey-"))
    gateway, gateway_url = serve(create_gateway(SECRET))
    inbox = Inbox()
    smtp_port = free_port()
    smtp = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    port = free_port()
    app = create_app(app_settings(sample_url, pool_min=1, pool_max=8, public_url=f"http://127.0.0.1:{port}",
                                  payment_secret=SECRET, payment_gateway_url=f"{gateway_url}/pay", var_dir=var,
                                  smtp_host="127.0.0.1", smtp_port=smtp_port, signin_per_address_hour=1000,
                                  signin_per_account_hour=1000, indicative_per_minute=100_000))
    server, base = serve(app, port)
    with psycopg.connect(sample_url) as conn:
        for role, (mail, name) in STAFF.items():
            if not conn.execute("SELECT 1 FROM accounts WHERE email = %s", (mail,)).fetchone():
                create_account(conn, mail, name, PASSWORD, role=role, verified=True)
        refs = conn.execute(TWO_TITLES).fetchone()
        conn.commit()
    assert refs, "l'échantillon doit avoir deux titres contigus dans une zone homologuée"
    yield {"base": base, "var": var, "inbox": inbox, "smtp": SmtpSettings(port=smtp_port), "db": sample_url,
           "gateway": gateway_url, "refs": list(refs), "state": {}}
    server.shutdown()
    smtp.stop()
    gateway.shutdown()
    shutil.rmtree(var, ignore_errors=True)


def _deliver(chain) -> None:
    """Send the outbox's due mail to the loopback SMTP server (what `urbasig mail-deliver` does)."""
    with psycopg.connect(chain["db"]) as conn:
        sent, failed = deliver_due(conn, chain["smtp"])
        conn.commit()
    assert failed == 0


def _mail_to(chain, address: str, subject_has: str = ""):
    found = [m for m in chain["inbox"].messages if address in m["To"] and subject_has in (m["Subject"] or "")]
    assert found, [(m["To"], m["Subject"]) for m in chain["inbox"].messages]
    return found[-1]


def _text_of(message) -> str:
    part = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    return part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")


def _signature_valid(data: bytes, ca: Path) -> bool:
    """pyHanko's check of a signed PDF, in a thread of its own: it runs asyncio, and Playwright's synchronous API
    keeps an event loop running in this one (inside it, every check would fail as "not intact")."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(verify_pdf, data, [ca]).result().valid


def _sign_in(page, base: str, email: str, start: str = "/espace/connexion") -> None:
    """Sign in from `start`: the sign-in page, or a private page that sends an anonymous visitor there."""
    page.goto(base + start)
    if start != "/espace/connexion":
        assert page.url == f"{base}/espace/connexion?suivant={quote(start, safe='/')}"
    form = page.locator("form#sign-in")
    form.locator("[name=email]").fill(email)
    form.locator("[name=password]").fill(PASSWORD)
    with page.expect_navigation():
        form.locator("[type=submit]").first.click()


def _keep(chain, role: str, page) -> None:
    """Keep the signed-in cookies of `role` for the Arabic pages (no second sign-in there)."""
    chain["state"].setdefault("signed_in", {})[role] = page.context.storage_state()


def _submit(page, form_selector: str, button: str = "[type=submit]") -> None:
    with page.expect_navigation():
        page.locator(form_selector).locator(button).first.click()


def _statuses(page) -> list[str]:
    """The statuses of the timeline's steps, oldest first (a step that changes none, a mail sent, has an empty one)."""
    return [s for s in page.eval_on_selector_all("ol#timeline li[data-status]",
                                                 "(items) => items.map((li) => li.dataset.status)") if s]


def _both(browser, watch, page, name: str, ready: str | None = None) -> None:
    """spaces-<name>-desktop.png of this page, and spaces-<name>-phone.png of the same URL in a phone context with
    the same cookies."""
    if ready:
        wait_until(page, ready)
    shoot(page, f"spaces-{name}-desktop.png", full_page=True)
    context = open_context(browser, watch, storage_state=page.context.storage_state(), **PHONE)
    try:
        phone = watch_page(context, watch)
        phone.goto(page.url)
        if ready:
            wait_until(phone, ready)
        assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), "défilement horizontal"
        shoot(phone, f"spaces-{name}-phone.png", full_page=True)
    finally:
        context.close()


def _new_page(browser, watch):
    context = open_context(browser, watch, **DESKTOP)
    return context, watch_page(context, watch)


# The land map drawn: MapLibre's canvas, its style and tiles loaded (api/static/js/spaces-land-map.js's hooks).
MAP_READY = ("(() => { const c = document.querySelector('#land-map canvas'), m = window.__urbasigLandMap;"
             " return c !== null && c.width > 0 && document.getElementById('land-map').dataset.ready === 'true'"
             " && m.loaded() && m.areTilesLoaded(); })()")


def test_the_official_chain_through_the_spaces(browser, watch, chain, tmp_path):
    base, refs = chain["base"], chain["refs"]
    email, full_name = APPLICANT
    applicant_ctx, applicant = _new_page(browser, watch)
    # register; the verification link comes by mail
    applicant.goto(base + "/espace/inscription")
    form = applicant.locator("form#register")
    form.locator("[name=full_name]").fill(full_name)
    form.locator("[name=email]").fill(email)
    form.locator("[name=password]").fill(PASSWORD)
    form.locator("[name=password2]").fill(PASSWORD)
    _submit(applicant, "form#register")
    assert applicant.url.startswith(base + "/espace/") and "courriel" in applicant.inner_text("main").lower()
    _deliver(chain)
    link = re.search(r"(http\S+/notes/accounts/verify\?token=\S+)", _text_of(_mail_to(chain, email))).group(1)
    applicant.goto(link)
    assert applicant.locator("a[href$='/espace/connexion']").count() >= 1
    _sign_in(applicant, base, email)
    assert applicant.url == base + "/espace/"
    _keep(chain, "applicant", applicant)
    # request the two titles with a PDF, the upload's progress watched
    progress: list = []
    applicant.expose_function("__progressSeen", lambda value: progress.append(value))
    applicant.add_init_script(WATCH_PROGRESS)
    applicant.goto(base + "/espace/demandes/nouvelle?refs=" + quote(";".join(refs)))
    form = applicant.locator("form#new-request")
    assert all(ref in form.locator("[name=refs]").input_value() for ref in refs)
    form.locator("select[name=standing]").select_option("proprietaire")
    title = tmp_path / "titre-foncier.pdf"
    title.write_bytes(_pdf("certificat de propriete", pad_kb=512))
    form.locator("input[type=file][name=documents]").set_input_files(str(title))
    with applicant.expect_navigation(url=re.compile(r"/espace/demandes/NRU-\d{4}-\d{6}$")):
        form.locator("[type=submit]").first.click()
    number = applicant.url.rsplit("/", 1)[1]
    chain["state"]["number"] = number
    assert progress and max(float(v) for v in progress) == 100, f"progression de l'envoi vue : {progress}"
    assert _statuses(applicant) == ["attente_paiement"]
    # pay through the gateway and come back
    _submit(applicant, "form#pay")
    assert applicant.url == chain["gateway"] + "/pay" and "TEST" in applicant.inner_text("body").upper()
    with applicant.expect_navigation(url=re.compile(r"/notes/payments/return/")):
        applicant.locator("button[value=approve]").click()
    with applicant.expect_navigation():
        applicant.click("a#to-request")
    assert applicant.url == f"{base}/espace/demandes/{number}"
    assert "instruite" in _statuses(applicant)
    # the applicant's list has it
    applicant.goto(base + "/espace/")
    assert applicant.locator(f"table#requests tr[data-number='{number}']").count() == 1

    # the instructor finds it in the queue, sees the land, returns it with a reason
    staff_ctx, staff = _new_page(browser, watch)
    _sign_in(staff, base, STAFF["instructor"][0], start="/instruction/")  # back to the page asked for
    assert staff.url == base + "/instruction/"
    _keep(chain, "instructor", staff)
    row = staff.locator(f"table#queue tr[data-number='{number}']")
    assert row.count() == 1 and row.locator("td.waiting").count() == 1
    staff.locator("form#filters [name=status]").select_option("instruite")
    _submit(staff, "form#filters")
    assert staff.locator(f"table#queue tr[data-number='{number}']").count() == 1
    with staff.expect_navigation():
        staff.locator(f"table#queue tr[data-number='{number}'] a").first.click()
    assert staff.url.startswith(f"{base}/instruction/demandes/{number}")
    wait_until(staff, MAP_READY)
    documents = staff.locator(f"a[href^='/instruction/demandes/{number}/documents/']")
    assert documents.count() == 1
    document = staff.request.get(base + documents.first.get_attribute("href"))
    assert document.status == 200 and document.body() == title.read_bytes()
    _both(browser, watch, staff, "instructor", MAP_READY)
    reason = "La pièce d'identité manque : joignez-la, s'il vous plaît."
    staff.locator("form#decision textarea[name=text]").fill(reason)
    _submit(staff, "form#decision", "button[name=decision][value=return]")
    assert staff.locator(".flash.ok").count() == 1

    # the applicant reads the reason and resubmits with one more document
    applicant.goto(f"{base}/espace/demandes/{number}")
    assert "retournee" in _statuses(applicant) and reason in applicant.inner_text(".return-reason")
    identity = tmp_path / "cni.pdf"
    identity.write_bytes(_pdf("carte nationale"))
    applicant.locator("form#resubmit input[type=file]").set_input_files(str(identity))
    _submit(applicant, "form#resubmit")
    assert applicant.url.startswith(f"{base}/espace/demandes/{number}")
    assert _statuses(applicant)[-1] == "instruite"

    # the instructor sees both documents and accepts
    staff.goto(f"{base}/instruction/demandes/{number}")
    assert staff.locator(f"a[href^='/instruction/demandes/{number}/documents/']").count() == 2
    staff.locator("form#decision textarea[name=text]").fill("Dossier complet.")
    _submit(staff, "form#decision", "button[name=decision][value=accept]")
    assert staff.locator(".flash.ok").count() == 1
    staff_ctx.close()

    # the signatory previews and signs it from the batch form; the mail leaves with the PDF
    signer_ctx, signer = _new_page(browser, watch)
    _sign_in(signer, base, STAFF["signatory"][0])
    assert signer.url == base + "/signature/"
    _keep(chain, "signatory", signer)
    preview = signer.locator(f"a.preview[href='/signature/demandes/{number}/apercu.pdf']")
    assert preview.count() == 1
    assert signer.request.get(base + preview.get_attribute("href")).body()[:4] == b"%PDF"
    _both(browser, watch, signer, "signatory")
    signer.locator(f"form#sign-batch input[type=checkbox][name=number][value='{number}']").check()
    _submit(signer, "form#sign-batch")
    assert signer.locator(".flash.ok").count() == 1
    delivery = signer.locator(f"tr[data-number='{number}'] td.delivery")
    assert delivery.get_attribute("data-state") == "waiting"
    _deliver(chain)
    signer.reload()
    assert signer.locator(f"tr[data-number='{number}'] td.delivery").get_attribute("data-state") == "sent"
    signer_ctx.close()
    mail = _mail_to(chain, email, number)
    attached = next(p for p in mail.walk() if p.get_filename() == f"{number}.pdf").get_payload(decode=True)
    ca = ensure_dev_ca(chain["var"] / "signing").ca
    assert _signature_valid(attached, ca)

    # the applicant downloads the signed note
    applicant.goto(f"{base}/espace/demandes/{number}")
    assert _statuses(applicant)[-1] == "envoyee"
    href = applicant.get_attribute("a#download-note", "href")
    assert href.endswith(f"/espace/demandes/{number}/note.pdf")
    note = applicant.request.get(base + href if href.startswith("/") else href)
    assert note.status == 200 and note.body()[:4] == b"%PDF" and note.body() == attached
    assert _signature_valid(note.body(), ca)
    _both(browser, watch, applicant, "applicant")
    applicant_ctx.close()

    # the admin creates the partner account (Commune d'Anfa)
    admin_ctx, admin = _new_page(browser, watch)
    _sign_in(admin, base, STAFF["admin"][0])
    assert admin.url == base + "/admin/"
    _keep(chain, "admin", admin)
    admin.goto(base + "/admin/comptes")
    form = admin.locator("form#new-account")
    partner_mail, partner_name, organisation = PARTNER
    form.locator("[name=email]").fill(partner_mail)
    form.locator("[name=full_name]").fill(partner_name)
    form.locator("[name=role]").select_option("partner")
    form.locator("[name=organisation]").fill(organisation)
    form.locator("[name=password]").fill(PASSWORD)
    _submit(admin, "form#new-account")
    assert admin.locator(".flash.ok").count() == 1 and partner_mail in admin.inner_text("table#accounts")

    # the partner finds the note by its first title, views and downloads it
    partner_ctx, partner = _new_page(browser, watch)
    _sign_in(partner, base, partner_mail)
    assert partner.url == base + "/partenaire/"
    _keep(chain, "partner", partner)
    partner.locator("form#search [name=q]").fill(refs[0])
    _submit(partner, "form#search")
    row = partner.locator(f"table#notes tr[data-number='{number}']")
    assert row.count() == 1
    view = row.locator("a.view")
    assert view.get_attribute("href") == f"/partenaire/notes/{number}"
    download = partner.request.get(base + row.locator("a.download").get_attribute("href"))
    assert download.status == 200 and download.body() == attached
    _both(browser, watch, partner, "partner")
    with partner.expect_navigation():
        view.click()
    assert number in partner.inner_text("main")
    partner_ctx.close()
    with psycopg.connect(chain["db"]) as conn:
        actions = [r[0] for r in conn.execute(
            "SELECT action FROM audit_log WHERE entity = 'note_request' AND entity_id = %s ORDER BY id", (number,))]
        partner_actions = conn.execute(
            "SELECT action, actor FROM audit_log WHERE entity = 'note_request' AND entity_id = %s "
            "AND action LIKE 'partenaire.%%'", (number,)).fetchall()
    assert {"partenaire.consultation", "partenaire.telechargement"} <= {a for a, _ in partner_actions}
    assert {actor for _, actor in partner_actions} == {partner_mail}

    # the admin sees it on the dashboard and in the journal, every step of it
    admin.goto(base + "/admin/")
    for chart in ("chart-requests", "chart-steps", "chart-indicative", "chart-returned"):
        assert admin.locator(f"figure#{chart} svg").count() == 1, chart
    _dashboard_counts_it(admin, chain, number)
    _both(browser, watch, admin, "admin")
    admin.goto(f"{base}/admin/journal?numero={number}")
    shown = admin.eval_on_selector_all("table#trail tbody tr[data-action]", "(rows) => rows.map((r) => r.dataset.action)")
    assert sorted(shown) == sorted(actions)  # every line of the trail of this note, no other
    assert {"note.demandee", "note.payee", "note.instruite", "note.retournee", "note.acceptee", "note.signee",
            "note.envoyee", "partenaire.consultation", "partenaire.telechargement"} <= set(shown)
    text = admin.inner_text("table#trail")
    assert partner_mail in text and STAFF["instructor"][0] in text and STAFF["signatory"][0] in text
    admin_ctx.close()


def _dashboard_counts_it(admin, chain, number: str) -> None:
    """The dashboard's figures count the journey's request: its day's requests, its return, its whole way."""
    from gis import l10n

    with psycopg.connect(chain["db"]) as conn:
        (created,) = conn.execute("SELECT created_at FROM note_requests WHERE number = %s", (number,)).fetchone()
    day = l10n.local(created).date().isoformat()

    def cell(figure: str, row: str, column: int) -> float:
        found = admin.locator(f"figure#chart-{figure} table tbody tr:has(th[data-value='{row}']) td").nth(column)
        return float(found.get_attribute("data-value"))

    assert cell("requests", day, 0) >= 1
    assert cell("returned", day, 0) >= 2 and cell("returned", day, 1) >= 1  # reviewed twice, returned once
    assert cell("steps", "end_to_end", 1) >= 1


# Each space's pages in Arabic: right to left, translated, no console error.
ARABIC_PAGES = {
    None: ["/espace/connexion", "/espace/inscription", "/espace/mot-de-passe-oublie"],
    "applicant": ["/espace/", "/espace/demandes/nouvelle"],
    "instructor": ["/instruction/"],
    "signatory": ["/signature/"],
    "partner": ["/partenaire/"],
    "admin": ["/admin/", "/admin/comptes", "/admin/cles", "/admin/plans", "/admin/journal", "/admin/courriels"],
}


def test_every_space_in_arabic(browser, watch, chain):
    base, signed_in = chain["base"], chain["state"].get("signed_in", {})
    number = chain["state"].get("number")
    extra = {"applicant": [f"/espace/demandes/{number}"], "partner": [f"/partenaire/notes/{number}"],
             "admin": [f"/admin/journal?numero={number}"]} if number else {}
    for role, paths in ARABIC_PAGES.items():
        if role and role not in signed_in:  # the journey failed before this role: an account of its own
            email = f"arabe.{role}@example.ma"
            with psycopg.connect(chain["db"]) as conn:
                if not conn.execute("SELECT 1 FROM accounts WHERE email = %s", (email,)).fetchone():
                    create_account(conn, email, "حساب تجريبي", PASSWORD, role=role, verified=True,
                                   organisation="Commune d'Anfa" if role == "partner" else None)
                conn.commit()
        state = signed_in.get(role) if role else None
        context = open_context(browser, watch, storage_state=state, **DESKTOP)
        try:
            page = watch_page(context, watch)
            if role and state is None:
                _sign_in(page, base, email)
            for path in paths + extra.get(role, []):
                page.goto(base + path + ("&" if "?" in path else "?") + "lang=ar")
                assert page.url.startswith(base + path), path  # not sent to the sign-in page
                assert page.get_attribute("html", "dir") == "rtl", path
                assert page.get_attribute("html", "lang") == "ar", path
                assert re.search("[\u0600-\u06ff]", page.inner_text("main")), path
        finally:
            context.close()


@contextmanager
def _refused(watch):
    """A refusal on purpose: the browser logs the page's 4xx status as a console error, that one only is expected."""
    before = len(watch.errors)
    yield
    new = watch.errors[before:]
    assert new and all(re.fullmatch(r"Failed to load resource: .* status of 4\d\d .*", e) for e in new), new
    del watch.errors[before:]


def test_forgotten_password_by_mail(browser, watch, chain):
    """The reset link comes by mail, sets a new password once, and the new one signs in (the old one no more)."""
    base, email = chain["base"], "oubli.parcours@example.ma"
    with psycopg.connect(chain["db"]) as conn:
        if not conn.execute("SELECT 1 FROM accounts WHERE email = %s", (email,)).fetchone():
            create_account(conn, email, "Salma Idrissi", PASSWORD, verified=True)
        conn.commit()
    context, page = _new_page(browser, watch)
    try:
        page.goto(base + "/espace/mot-de-passe-oublie")
        page.locator("form#forgot [name=email]").fill(email)
        _submit(page, "form#forgot")
        _deliver(chain)
        link = re.search(r"(http\S+/espace/mot-de-passe/nouveau\?token=\S+)", _text_of(_mail_to(chain, email))).group(1)
        page.goto(link)
        new = "un tout autre mot de passe"
        page.locator("form#reset [name=password]").fill(new)
        page.locator("form#reset [name=password2]").fill(new)
        _submit(page, "form#reset")
        with _refused(watch):
            again = page.goto(link)  # used once only: a page saying so
        assert 400 <= again.status < 500 and page.locator("form#reset").count() == 0
        with _refused(watch):
            _sign_in(page, base, email)  # the old password is refused
        assert page.url.startswith(base + "/espace/connexion") and page.locator("form#sign-in").count() == 1
        form = page.locator("form#sign-in")
        form.locator("[name=email]").fill(email)
        form.locator("[name=password]").fill(new)
        with page.expect_navigation():
            form.locator("[type=submit]").first.click()
        assert page.url == base + "/espace/"
    finally:
        context.close()
