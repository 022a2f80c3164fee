"""The development PKI over HTTP: the RFC 3161 TSA (POST /dev/tsa) and the development CA's CRL (GET /dev/ca.crl).

Mounted only where the development CA signs (no URBASIG_SIGNING_KEY): its timestamps and CRL have **no legal
value**. The TSA answers any RFC 3161 client (pyHanko's HTTPTimeStamper, openssl ts); the signer inside the
app uses the same responder in process (notes/tsa.py).
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, Response, current_app, request

from gis.errors import InputError, PayloadTooLarge
from notes.pki import CRL_PATH, current_crl, ensure_dev_pki
from notes.tsa import QUERY_TYPE, REPLY_TYPE, TsaKey, respond

dev_pki = Blueprint("dev_pki", __name__)
MAX_QUERY_BYTES = 4096  # a TimeStampReq is a digest and a few fields: ~100 bytes


def _pki():
    s = current_app.config["URBASIG"]
    return ensure_dev_pki(Path(s.var_dir) / "signing", s.public_base + CRL_PATH)


@dev_pki.post("/dev/tsa")
def timestamp() -> Response:
    """An RFC 3161 time-stamp reply to an application/timestamp-query body (development TSA)."""
    if request.mimetype != QUERY_TYPE:
        raise InputError(f"corps attendu : {QUERY_TYPE} (requête d'horodatage RFC 3161)")
    query = request.get_data(cache=False)
    if len(query) > MAX_QUERY_BYTES:
        raise PayloadTooLarge(f"requête d'horodatage trop longue (au plus {MAX_QUERY_BYTES} octets)")
    files = _pki()
    assert files.dev is not None
    reply = respond(query, TsaKey.load(files.dev.tsa_key, files.dev.tsa_cert, (files.ca,)))
    return Response(reply, mimetype=REPLY_TYPE, headers={"Cache-Control": "no-store"})


@dev_pki.get(CRL_PATH)
def crl() -> Response:
    """The development CA's current CRL (DER)."""
    files = _pki()
    assert files.dev is not None
    return Response(current_crl(files.dev), mimetype="application/pkix-crl",
                    headers={"Cache-Control": "public, max-age=3600"})


def register_dev_pki(app: Flask) -> None:
    """Mount the TSA and the CRL when the development CA signs (never beside real signing material)."""
    if not app.config["URBASIG"].signing_key:
        app.register_blueprint(dev_pki)
