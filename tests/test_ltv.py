"""PAdES B-LTA notes that verify years later, offline: expired signer, revoked after, revoked before, refresh.

pyHanko's own AdES validation (ETSI EN 319 102-1) is the referee: `verify_pdf` runs it with the network off
and the clock moved; the pyHanko CLI (`pyhanko sign validate --pretty-print`, `adesverify`) reads the profile
of a note signed through the live development TSA and CRL on 127.0.0.1.
"""

from __future__ import annotations

import datetime as dt
import io
import shutil
import subprocess
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from reportlab.pdfgen import canvas

from notes import pki
from notes.signing import (
    Ltv,
    SigningFiles,
    SigningRefused,
    dev_ltv,
    ensure_dev_ca,
    refresh_ltv,
    sign_pdf,
    verify_pdf,
)
from notes.tsa import QUERY_TYPE, REPLY_TYPE, http_timestamper

NOW = dt.datetime.now(dt.UTC)  # reset when the module's tests start (below), not when pytest imported it


@pytest.fixture(scope="module", autouse=True)
def _now():
    """The module's « now », taken when its first test starts: under xdist a module is imported minutes before it
    runs, and its short-lived certificates (10 minutes) must be valid from when they are used."""
    global NOW
    NOW = dt.datetime.now(dt.UTC)
CRL_URL = "http://127.0.0.1:9/dev/ca.crl"  # nothing listens there: verification must not need it


def _pdf(text: str = "Note de renseignements urbanistiques n° 2026-0001") -> bytes:
    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    c.drawString(72, 720, text)
    c.save()
    return buf.getvalue()


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> SigningFiles:
    return ensure_dev_ca(tmp_path_factory.mktemp("pki"), CRL_URL)


def _signer(files: SigningFiles, name: str, lifetime: dt.timedelta) -> tuple[SigningFiles, x509.Certificate]:
    """Another signing certificate from the same development CA, valid from a minute ago for `lifetime`."""
    d = files.ca.parent
    ca_key = serialization.load_pem_private_key((d / "ca-key.pem").read_bytes(), None)
    key, cert = pki.issue(ca_key, pki.load_cert(files.ca), name, NOW - dt.timedelta(minutes=1), NOW + lifetime,
                          CRL_URL)
    (d / f"{name}-key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                          serialization.NoEncryption()))
    (d / f"{name}-cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return SigningFiles(d / f"{name}-key.pem", d / f"{name}-cert.pem", files.ca, files.dev), cert


def test_a_note_signed_b_lta_still_verifies_offline_after_its_signer_expired(files):
    short, _ = _signer(files, "court", dt.timedelta(minutes=10))
    lta = sign_pdf(_pdf(), short, reason="Note officielle", ltv=dev_ltv(files))
    years_later = NOW + dt.timedelta(days=2 * 365)  # the signer expired long ago; the TSA's certificate has not
    check = verify_pdf(lta, [files.ca], moment=years_later)
    assert check.valid and check.trusted and check.timestamped and check.level == "B-LTA", check
    assert check.revocation_embedded and check.revoked_at is None and len(check.archive) == 1
    assert abs((check.signed_at - NOW).total_seconds()) < 120 and check.refresh_by > years_later
    # the same signer without timestamp nor embedded data: nothing proves it signed while valid
    plain = verify_pdf(sign_pdf(_pdf(), short, reason="Note officielle"), [files.ca], moment=years_later)
    assert plain.intact and not plain.valid and plain.level == "B-B" and not plain.timestamped
    # past the last archive timestamp's certificate, nothing proves the data any more: refresh was due
    assert not verify_pdf(lta, [files.ca], moment=check.refresh_by + dt.timedelta(days=1)).valid


def test_the_verify_command_reads_a_note_offline_at_a_later_date(files, tmp_path):
    from click.testing import CliRunner

    from app import cli

    short, _ = _signer(files, "court-cli", dt.timedelta(minutes=10))
    path = tmp_path / "note.pdf"
    path.write_bytes(sign_pdf(_pdf(), short, reason="Note officielle", ltv=dev_ltv(files)))
    later = (NOW + dt.timedelta(days=400)).strftime("%Y-%m-%d")
    ok = CliRunner().invoke(cli, ["notes", "verify", str(path), "--trust", str(files.ca), "--at", later])
    assert ok.exit_code == 0, ok.output
    assert "Signature : valide" in ok.output and "Profil PAdES : B-LTA" in ok.output
    assert "(horodatage RFC 3161)" in ok.output and "Données de révocation intégrées : oui" in ok.output
    path.write_bytes(sign_pdf(_pdf(), short, reason="Note officielle"))  # B-B: nothing proves it after expiry
    refused = CliRunner().invoke(cli, ["notes", "verify", str(path), "--trust", str(files.ca), "--at", later])
    assert refused.exit_code == 1 and "NON VALIDE" in refused.output and "Profil PAdES : B-B" in refused.output


def test_revoked_after_signing_stays_valid_and_refresh_keeps_the_history(files):
    signer, cert = _signer(files, "revoque-apres", dt.timedelta(days=400))
    lta = sign_pdf(_pdf(), signer, reason="Note officielle", ltv=dev_ltv(files))
    revoked = pki.revoke(files.dev, cert.serial_number)
    refreshed = refresh_ltv(lta, files, dev_ltv(files))
    assert refreshed.startswith(lta)  # an incremental update: the signed bytes and the first archive stay
    twice = refresh_ltv(refreshed, files, dev_ltv(files))
    assert twice.startswith(refreshed)
    check = verify_pdf(twice, [files.ca], moment=NOW + dt.timedelta(days=800))  # past the signer's end too
    assert check.valid and check.level == "B-LTA" and len(check.archive) == 3, check
    assert check.revoked_at == revoked.revoked_at and check.revoked_at >= check.signed_at  # revoked later
    assert [a.at for a in check.archive] == sorted(a.at for a in check.archive)
    assert verify_pdf(lta, [files.ca]).valid  # the copy the applicant received verifies as well


def test_revoked_before_signing_is_refused(files):
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    signer, cert = _signer(files, "revoque-avant", dt.timedelta(days=400))
    pki.revoke(files.dev, cert.serial_number, when=NOW - dt.timedelta(seconds=30))
    with pytest.raises(SigningRefused, match="signature refusée"):
        sign_pdf(_pdf(), signer, reason="Note officielle", ltv=dev_ltv(files))  # our signer checks first
    # a careless signer timestamps it anyway (B-T); the CRL that lists the revocation is then embedded
    meta = signers.PdfSignatureMetadata(field_name="Signature", md_algorithm="sha256",
                                        subfilter=fields.SigSeedSubFilter.PADES)
    simple = signers.SimpleSigner.load(str(signer.key), str(signer.cert), ca_chain_files=(str(files.ca),))
    ltv = dev_ltv(files)
    signed = signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(_pdf())), meta, signer=simple,
                              timestamper=ltv.timestamper).getvalue()
    out = io.BytesIO(signed)
    from asn1crypto import crl

    DocumentSecurityStore.add_dss(out, None, crls=[crl.CertificateList.load(c) for c in ltv.crls])
    check = verify_pdf(out.getvalue(), [files.ca], moment=NOW + dt.timedelta(days=30))
    assert check.intact and check.timestamped and not check.valid and not check.trusted, check
    assert check.revoked_at is not None and check.revoked_at < check.signed_at and "révoqué" in check.problem
    with pytest.raises(SigningRefused, match="non rafraîchie"):
        refresh_ltv(out.getvalue(), files, ltv)


def test_a_legacy_b_b_note_of_a_development_ca_without_its_key_is_kept_trusted_and_upgraded(tmp_path):
    legacy = tmp_path / "signing"
    legacy.mkdir()
    ca_key, ca_cert = pki.new_ca("urbasig CA de développement (ancienne)")
    key, cert = pki.issue(ca_key, ca_cert, "Signataire des notes (développement)", NOW - dt.timedelta(days=1),
                          NOW + dt.timedelta(days=30), None)  # no CRL address, as before
    (legacy / "ca-cert.pem").write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    (legacy / "signer-cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (legacy / "signer-key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    old = sign_pdf(_pdf(), SigningFiles(legacy / "signer-key.pem", legacy / "signer-cert.pem", legacy / "ca-cert.pem"),
                   reason="Note officielle")  # B-B, as notes were signed before
    files = ensure_dev_ca(legacy, CRL_URL)  # the CA key is missing: retired, a new CA takes over
    assert (legacy / "ca-key.pem").exists() and pki.load_cert(files.ca).fingerprint(hashes.SHA256()) != \
        ca_cert.fingerprint(hashes.SHA256())
    assert len(files.trust_roots) == 2 and verify_pdf(old, files.trust_roots).valid
    assert not list((legacy / "retired").glob("*key*"))  # the legacy signer's private key is not kept
    assert legacy.stat().st_mode & 0o777 == 0o700 and files.key.stat().st_mode & 0o777 == 0o600
    assert not verify_pdf(old, [files.ca]).valid  # it is the retired root that vouches for it
    upgraded = refresh_ltv(old, files, dev_ltv(files))
    check = verify_pdf(upgraded, files.trust_roots)
    assert upgraded.startswith(old) and check.valid and check.level == "B-LTA" and not check.timestamped


def test_revoking_the_notes_own_signer_issues_a_new_one(tmp_path):
    files = ensure_dev_ca(tmp_path / "signing", CRL_URL)
    first = pki.load_cert(files.cert)
    pki.revoke(files.dev, first.serial_number, "remplacement")
    second = pki.load_cert(files.cert)
    assert second.serial_number != first.serial_number
    crl = x509.load_der_x509_crl(pki.current_crl(files.dev))
    assert crl.get_revoked_certificate_by_serial_number(first.serial_number) is not None
    assert verify_pdf(sign_pdf(_pdf(), files, reason="n", ltv=dev_ltv(files)), [files.ca]).valid
    with pytest.raises(Exception, match="déjà révoqué"):
        pki.revoke(files.dev, first.serial_number)


# ------------------------------------------------------------------------------- over HTTP, on 127.0.0.1
@pytest.fixture(scope="module")
def live(server_url, template_name, tmp_path_factory):
    from app import create_app
    from layers.db import drop_database, ensure_database, with_dbname
    from tests.helpers import app_settings, free_port, serve

    name = "urbasig_ltv_live"
    ensure_database(server_url, name, template=template_name)
    port, var = free_port(), tmp_path_factory.mktemp("var")
    server, base = serve(create_app(app_settings(with_dbname(server_url, name), pool_min=1, pool_max=2, var_dir=var,
                                                 public_url=f"http://127.0.0.1:{port}")), port)
    yield base, var
    server.shutdown()
    drop_database(server_url, name)


def test_the_development_tsa_and_crl_answer_over_http(live):
    from asn1crypto import core, tsp

    base, var = live
    r = requests.get(f"{base}/dev/ca.crl", timeout=30)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/pkix-crl"
    crl = x509.load_der_x509_crl(r.content)
    files = ensure_dev_ca(var / "signing")
    assert crl.is_signature_valid(pki.load_cert(files.ca).public_key())
    points = pki.load_cert(files.cert).extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert points[0].full_name[0].value == f"{base}/dev/ca.crl"  # the certificate names where its CRL is
    bad = requests.post(f"{base}/dev/tsa", data=b"\x30\x00", headers={"Content-Type": "text/plain"}, timeout=30)
    assert bad.status_code == 400 and QUERY_TYPE in bad.json()["message"]
    garbage = requests.post(f"{base}/dev/tsa", data=b"pas du DER", headers={"Content-Type": QUERY_TYPE}, timeout=30)
    assert garbage.headers["Content-Type"] == REPLY_TYPE
    status = tsp.PKIStatusInfo.load(core.Sequence.load(garbage.content)[0].dump())  # a reply with no token
    assert garbage.status_code == 200 and status["status"].native == "rejection"  # RFC 3161: said in the reply
    assert "illisible" in status["status_string"].native[0] and status["fail_info"].native == {"bad_data_format"}
    # the review's hostile requests: each a rejection in the reply, never a 500
    hostile = {"303d02010c3031300d0609607548016503040201430004202d711642b726b04401627ca9fbac32f5c8530fb1903cc4db0225"
               "8717921a4881430230390101ff": "bad_data_format",  # version 12 (an IndexError once)
               "303d0201013031300d0609608648016503040201050004202d711642b726b04401627ca9fbac32f5c8530fb1903cc4db0225"
               "6e17921a4881e80230390101ff": "bad_data_format"}  # an AttributeError once
    good = tsp.TimeStampReq({"version": "v1", "message_imprint": {"hash_algorithm": {"algorithm": "sha256"},
                                                                  "hashed_message": b"\x01" * 32}})
    critical = tsp.TimeStampReq({**good.native, "extensions": [
        {"extn_id": "1.2.3.4", "critical": True, "extn_value": b"\x05\x00"}]})
    hostile[critical.dump().hex()] = "unaccepted_extensions"
    hostile[good.dump().hex() + "00"] = "bad_data_format"  # trailing bytes
    for query, failure in hostile.items():
        r = requests.post(f"{base}/dev/tsa", data=bytes.fromhex(query), headers={"Content-Type": QUERY_TYPE},
                          timeout=30)
        reply = tsp.PKIStatusInfo.load(core.Sequence.load(r.content)[0].dump())
        assert r.status_code == 200 and reply["fail_info"].native == {failure}, (query, reply.native)
    granted = requests.post(f"{base}/dev/tsa", data=good.dump(), headers={"Content-Type": QUERY_TYPE}, timeout=30)
    assert tsp.TimeStampResp.load(granted.content)["status"]["status"].native == "granted"
    big = requests.post(f"{base}/dev/tsa", data=b"0" * 20_000, headers={"Content-Type": QUERY_TYPE}, timeout=30)
    assert big.status_code == 413


def test_uploads_to_verify_are_counted_per_address(live):
    base, _ = live
    answers = [requests.post(f"{base}/verify", files={"pdf": ("n.pdf", b"%PDF-1.4 pas une note")}, timeout=30)
               for _ in range(11)]
    assert [a.status_code for a in answers[:10]] == [400] * 10
    assert answers[10].status_code == 429 and "fichiers déposés par minute" in answers[10].json()["message"]


def test_a_note_signed_through_the_http_tsa_reads_b_lta_to_pyhankos_cli(live, tmp_path):
    base, var = live
    files = ensure_dev_ca(var / "signing")
    crl_der = requests.get(f"{base}/dev/ca.crl", timeout=30).content
    ltv = Ltv(http_timestamper(f"{base}/dev/tsa"), (crl_der,))  # the real HTTP path, as any TSA
    signed = sign_pdf(_pdf(), files, reason="Note officielle", ltv=ltv)
    check = verify_pdf(signed, [files.ca], moment=NOW + dt.timedelta(days=2 * 365))  # offline, two years later
    assert check.valid and check.level == "B-LTA" and check.timestamped, check
    path = tmp_path / "note.pdf"
    path.write_bytes(signed)
    cli = shutil.which("pyhanko") or str(Path(__import__("sys").executable).with_name("pyhanko"))
    trust = ["--trust", str(files.ca), "--trust-replace"]
    out = subprocess.run([cli, "sign", "validate", "--pretty-print", *trust, str(path)], capture_output=True,
                         text=True, timeout=120)
    # fetches the CRL the certificate names (the live app), reads a signature timestamp (B-T), its trust, and
    # modifications that are only signature maintenance: the DSS (B-LT) and the document timestamp (B-LTA)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "The signer's certificate is trusted." in out.stdout and "Signature timestamp token:" in out.stdout
    assert "The TSA certificate is trusted." in out.stdout
    assert "All modifications relate to signature maintenance" in out.stdout and "judged VALID" in out.stdout
    ades = subprocess.run([cli, "sign", "adesverify", "--pretty-print", *trust, str(path)], capture_output=True,
                          text=True, timeout=120)
    assert ades.returncode == 0 and "judged VALID" in ades.stdout, ades.stdout + ades.stderr
    # a changed byte in the signed part: the CLI refuses too
    tampered = bytearray(signed)
    i = tampered.index(b"stream") + 20
    tampered[i] ^= 1
    path.write_bytes(bytes(tampered))
    assert subprocess.run([cli, "sign", "validate", "--pretty-print", *trust, str(path)], capture_output=True,
                          text=True, timeout=120).returncode != 0


# ------------------------------------------------------------------------------- the review's hostile files
@pytest.fixture(scope="module")
def note(files) -> bytes:
    return sign_pdf(_pdf(), files, reason="Note officielle", ltv=dev_ltv(files))


def _empty_updates(pdf: bytes, n: int) -> bytes:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    for _ in range(n):
        w = IncrementalPdfFileWriter(io.BytesIO(pdf))
        w.update_container(w.root["/DSS"])
        out = io.BytesIO()
        w.write(out)
        pdf = out.getvalue()
    return pdf


def test_a_note_padded_with_empty_updates_is_refused_before_its_validation(note, files):
    from notes.signing import MAX_REVISIONS, VerificationTooLarge

    padded = _empty_updates(note, MAX_REVISIONS)
    with pytest.raises(VerificationTooLarge, match="révisions") as refused:
        verify_pdf(padded, [files.ca])
    assert refused.value.status == 413
    assert verify_pdf(_empty_updates(note, 2), [files.ca]).signed  # a few updates are still read


def test_damaged_notes_read_as_damaged_never_as_an_error(note, files):
    import random

    from gis.errors import InputError

    rng = random.Random(18)
    outcomes = set()
    for _ in range(30):
        b = bytearray(note)
        for _ in range(rng.randint(1, 8)):
            b[rng.randrange(len(b))] = rng.choice(b"0123456789 /<>[]()RobjendstreamxrefFlate\x00\xff")
        try:
            check = verify_pdf(bytes(b), [files.ca])
        except InputError as exc:  # unreadable as a PDF: a 400, said in French
            outcomes.add(exc.status)
            continue
        outcomes.add(check.valid)
        assert check.problem is None or all(word not in check.problem for word in ("Error", "failed", "The "))
    assert False in outcomes  # most mutations break it


def test_a_crl_from_an_untrusted_key_does_not_revoke_a_genuine_note(note, files, tmp_path):
    from asn1crypto import crl as asn1_crl
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    rogue = ensure_dev_ca(tmp_path / "rogue", CRL_URL)  # the same names, another key
    signer = pki.load_cert(files.cert)
    assert pki.load_cert(rogue.ca).subject == pki.load_cert(files.ca).subject
    pki.revoke(rogue.dev, signer.serial_number, when=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    out = io.BytesIO(note)
    DocumentSecurityStore.add_dss(out, None, crls=[asn1_crl.CertificateList.load(pki.current_crl(rogue.dev))])
    check = verify_pdf(out.getvalue(), [files.ca])
    assert check.revoked_at is None and "révoqué" not in (check.problem or ""), check


def test_an_upgraded_legacy_note_verifies_after_its_signer_expired(tmp_path):
    legacy = tmp_path / "signing"
    legacy.mkdir()
    ca_key, ca_cert = pki.new_ca("urbasig CA de développement (ancienne)")
    key, cert = pki.issue(ca_key, ca_cert, "Signataire", NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=30), None)
    (legacy / "ca-cert.pem").write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    (legacy / "signer-cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (legacy / "signer-key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    old = sign_pdf(_pdf(), SigningFiles(legacy / "signer-key.pem", legacy / "signer-cert.pem", legacy / "ca-cert.pem"),
                   reason="Note officielle")
    files = ensure_dev_ca(legacy, CRL_URL)
    upgraded = refresh_ltv(old, files, dev_ltv(files))
    later = NOW + dt.timedelta(days=60)  # the legacy signer expired 30 days ago: its archive timestamp proves it
    check = verify_pdf(upgraded, files.trust_roots, moment=later)
    assert check.valid and check.level == "B-LTA", check
    assert not verify_pdf(old, files.trust_roots, moment=later).valid  # without it, nothing proves it


def test_the_development_tsa_and_crl_are_not_served_on_a_public_address(server_url, live):
    from app import create_app
    from layers.db import with_dbname
    from tests.helpers import app_settings

    _, var = live
    app = create_app(app_settings(with_dbname(server_url, "urbasig_ltv_live"), pool_min=1, pool_max=1, var_dir=var,
                                  public_url="https://urba.example.ma",
                                  payment_gateway_url="http://127.0.0.1:9/passerelle"))  # a demonstration on a network
    assert "dev_pki" not in app.blueprints  # an open signing service on a network otherwise
    assert not any(str(rule).startswith("/dev/") for rule in app.url_map.iter_rules())


def test_verifying_without_trust_reads_the_roots_and_creates_nothing(note, files, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from app import cli

    var = tmp_path / "var"
    var.mkdir()
    monkeypatch.setenv("URBASIG_VAR_DIR", str(var))
    monkeypatch.setenv("URBASIG_SIGNING_KEY", str(files.key))  # a configured key, no TSA URL: not needed to verify
    monkeypatch.setenv("URBASIG_SIGNING_CERT", str(files.cert))
    monkeypatch.setenv("URBASIG_SIGNING_CA", str(files.ca))
    monkeypatch.delenv("URBASIG_TSA_URL", raising=False)
    path = tmp_path / "note.pdf"
    path.write_bytes(note)
    ok = CliRunner().invoke(cli, ["notes", "verify", str(path)])
    assert ok.exit_code == 0 and "Signature : valide" in ok.output, ok.output
    monkeypatch.delenv("URBASIG_SIGNING_KEY")
    monkeypatch.delenv("URBASIG_SIGNING_CERT")
    monkeypatch.delenv("URBASIG_SIGNING_CA")
    untrusted = CliRunner().invoke(cli, ["notes", "verify", str(path)])
    assert untrusted.exit_code == 1 and not (var / "signing").exists()  # no development PKI made on the way
