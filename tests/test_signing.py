"""PAdES signatures with a development CA: valid when untouched, caught when tampered or untrusted."""

from __future__ import annotations

import io

import pytest
from reportlab.pdfgen import canvas

from notes.signing import ensure_dev_ca, sign_pdf, verify_pdf


def _pdf(text: str = "Note de renseignements urbanistiques n° 2026-0001 — zone D, 60 %") -> bytes:
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pageCompression=0)  # plain content stream, so the test can alter a word
    c.drawString(72, 720, text)
    c.save()
    return buf.getvalue()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return ensure_dev_ca(tmp_path_factory.mktemp("signing"))


def test_signed_note_verifies(files):
    signed = sign_pdf(_pdf(), files, reason="Note officielle")
    result = verify_pdf(signed, [files.ca])
    assert result.valid and result.intact and result.whole_document and result.trusted
    assert "Signataire" in result.signer and result.signed_at is not None


def test_tampered_bytes_are_reported(files):
    signed = bytearray(sign_pdf(_pdf(), files, reason="Note officielle"))
    i = signed.index(b"zone D")
    signed[i + 5] = ord("C")  # "zone C": same length, the signed range changed
    result = verify_pdf(bytes(signed), [files.ca])
    assert result.signed and not result.intact and not result.valid


def test_content_added_after_signature_is_reported(files):
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    signed = sign_pdf(_pdf(), files, reason="Note officielle")
    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    writer.root["/Info2"] = writer.add_object(__import__("pyhanko").pdf_utils.generic.TextStringObject("ajout"))
    out = io.BytesIO()
    writer.write(out)
    result = verify_pdf(out.getvalue(), [files.ca])
    assert result.signed and not result.whole_document and not result.valid


def test_untrusted_authority_and_unsigned_pdf(files, tmp_path):
    other = ensure_dev_ca(tmp_path / "other")
    signed = sign_pdf(_pdf(), files, reason="Note officielle")
    untrusted = verify_pdf(signed, [other.ca])
    assert untrusted.intact and not untrusted.trusted and not untrusted.valid
    assert not verify_pdf(_pdf(), [files.ca]).signed


def test_dev_ca_is_created_once_with_a_private_key_only_the_owner_reads(files):
    again = ensure_dev_ca(files.key.parent)
    assert again == files and (files.key.stat().st_mode & 0o777) == 0o600
