"""The development PKI over HTTP: the RFC 3161 TSA (POST /dev/tsa) and the development CA's CRL (GET /dev/ca.crl).

Mounted only where the development CA signs (no URBASIG_SIGNING_KEY): its timestamps and CRL have **no legal
value**. The TSA answers any RFC 3161 client (pyHanko's HTTPTimeStamper, openssl ts); the signer inside the
app uses the same responder in process (notes/tsa.py).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, current_app, request

from gis.errors import InputError, PayloadTooLarge
from notes.pki import CRL_PATH, current_crl, ensure_dev_pki, reading
from notes.tsa import QUERY_TYPE, REPLY_TYPE, TsaKey, respond

dev_pki = Blueprint("dev_pki", __name__)
MAX_QUERY_BYTES = 4096  # a TimeStampReq is a digest and a few fields: ~100 bytes


def _pki():
    s = current_app.config["URBASIG"]
    return ensure_dev_pki(Path(s.var_dir) / "signing", s.public_base + CRL_PATH)


_keys: dict[tuple[str, int], TsaKey] = {}  # the TSA key by certificate file and its mtime: loaded once


def _tsa_key(files) -> TsaKey:
    assert files.dev is not None
    stamp = (str(files.dev.tsa_cert), files.dev.tsa_cert.stat().st_mtime_ns)
    if stamp not in _keys:  # renewed: the new pair (a race only costs a second load)
        _keys.clear()
        with reading(files.dev):
            _keys[stamp] = TsaKey.load(files.dev.tsa_key, files.dev.tsa_cert, (files.ca,))
    return _keys[stamp]


@dev_pki.post("/dev/tsa")
def timestamp() -> Response:
    """An RFC 3161 time-stamp reply to an application/timestamp-query body (development TSA)."""
    if request.mimetype != QUERY_TYPE:
        raise InputError(f"corps attendu : {QUERY_TYPE} (requête d'horodatage RFC 3161)")
    if request.content_length is None or request.content_length > MAX_QUERY_BYTES:  # before reading the body
        raise PayloadTooLarge(f"requête d'horodatage trop longue ou sans longueur (au plus {MAX_QUERY_BYTES} octets)")
    query = request.get_data(cache=False)
    if len(query) > MAX_QUERY_BYTES:
        raise PayloadTooLarge(f"requête d'horodatage trop longue (au plus {MAX_QUERY_BYTES} octets)")
    reply = respond(query, _tsa_key(_pki()))
    return Response(reply, mimetype=REPLY_TYPE, headers={"Cache-Control": "no-store"})


@dev_pki.get(CRL_PATH)
def crl() -> Response:
    """The development CA's current CRL (DER)."""
    files = _pki()
    assert files.dev is not None
    return Response(current_crl(files.dev), mimetype="application/pkix-crl",
                    headers={"Cache-Control": "public, max-age=3600"})


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def register_dev_pki(app: Flask) -> None:
    """Mount the TSA and the CRL when the development CA signs (never beside real signing material) and the app
    answers on this machine only (its public URL on loopback): never an open signing service on a network."""
    settings = app.config["URBASIG"]
    if not settings.signing_key and urlsplit(settings.public_base).hostname in LOOPBACK_HOSTS:
        app.register_blueprint(dev_pki)
