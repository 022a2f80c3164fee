"""An RFC 3161 time-stamping authority (TSA): the development one, and the client the signer uses.

`respond` answers a DER TimeStampReq with a DER TimeStampResp (RFC 3161 § 2.4), signed with the TSA's key:
the app serves it over HTTP in development (POST /dev/tsa, api/dev_pki.py) and `LocalTimeStamper` calls the
very same function in process, for the signatures made where no HTTP server runs (the CLI, a worker, tests).
Its certificate is issued by the development CA: its timestamps have **no legal value**. A real TSA is
reached over HTTP (URBASIG_TSA_URL, with a user and password when it asks for them).
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pyhanko.sign.general import as_signing_certificate_v2, simple_cms_attribute
from pyhanko.sign.timestamps import HTTPTimeStamper, TimeStamper

QUERY_TYPE, REPLY_TYPE = "application/timestamp-query", "application/timestamp-reply"
# The TSA policy of the development TSA: an OID under the ITU-T « example » arc (2.999), which names no real policy.
DEV_POLICY = "2.999.3161.1"
DIGEST_BYTES = {"sha256": 32, "sha384": 48, "sha512": 64}


@dataclass(frozen=True)
class TsaKey:
    """The TSA's key, its certificate and the chain above it (the CA), loaded once."""

    key: rsa.RSAPrivateKey
    cert: asn1_x509.Certificate
    chain: tuple[asn1_x509.Certificate, ...] = ()

    @classmethod
    def load(cls, key: Path, cert: Path, chain: tuple[Path, ...] = ()) -> TsaKey:
        """From PEM files."""
        from pyhanko.keys import load_cert_from_pemder

        private = serialization.load_pem_private_key(key.read_bytes(), password=None)
        assert isinstance(private, rsa.RSAPrivateKey)
        return cls(private, load_cert_from_pemder(str(cert)), tuple(load_cert_from_pemder(str(c)) for c in chain))


class _Refusal(core.Sequence):
    """A TimeStampResp without token (asn1crypto's TimeStampResp wants one; RFC 3161 makes it optional)."""

    _fields = [("status", tsp.PKIStatusInfo)]  # noqa: RUF012 - asn1crypto's declaration


def _refusal(failure: str, text: str) -> bytes:
    return _Refusal({"status": tsp.PKIStatusInfo({"status": tsp.PKIStatus("rejection"), "status_string": [text],
                                                  "fail_info": tsp.PKIFailureInfo({failure})})}).dump()


def respond(query: bytes, tsa: TsaKey, now: dt.datetime | None = None) -> bytes:
    """The DER TimeStampResp to a DER TimeStampReq: granted with a token, or a rejection saying why."""
    try:
        req = tsp.TimeStampReq.load(query, strict=True)  # strict: trailing bytes are refused
        version = req["version"].native
        imprint = req["message_imprint"]
        algorithm = imprint["hash_algorithm"]["algorithm"].native
        digest = imprint["hashed_message"].native
        nonce = req["nonce"].native
        wants_certs = bool(req["cert_req"].native)
        extensions = req["extensions"].native or []
        req.native  # noqa: B018 - asn1crypto parses lazily: a truncated body fails here, not while answering
    except Exception:  # noqa: BLE001 - asn1crypto raises ValueError, TypeError, KeyError, AttributeError, IndexError…
        return _refusal("bad_data_format", "requête d'horodatage illisible (RFC 3161 TimeStampReq en DER attendu)")
    if version != "v1":
        return _refusal("bad_data_format", "version de requête d'horodatage non prise en charge (v1 attendue)")
    if any(e.get("critical") for e in extensions):  # RFC 3161 § 2.4.2: none is understood here
        return _refusal("unaccepted_extensions", "extension critique de la requête non prise en charge")
    if not isinstance(digest, bytes) or algorithm not in DIGEST_BYTES:
        return _refusal("bad_alg", f"algorithme d'empreinte refusé : {algorithm} (sha256, sha384, sha512)")
    if len(digest) != DIGEST_BYTES[algorithm]:
        return _refusal("bad_data_format", "empreinte de longueur incorrecte pour son algorithme")
    if req["req_policy"].native not in (None, DEV_POLICY):
        return _refusal("unaccepted_policy", f"politique d'horodatage inconnue (seule {DEV_POLICY})")
    gen_time = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    info = {"version": "v1", "policy": DEV_POLICY, "message_imprint": imprint,
            "serial_number": secrets.randbits(63), "gen_time": gen_time,
            "accuracy": {"seconds": 1}, "tsa": asn1_x509.GeneralName(name="directory_name", value=tsa.cert.subject)}
    if nonce is not None:
        info["nonce"] = nonce
    content = tsp.TSTInfo(info).dump()
    token = cms.ContentInfo({"content_type": "signed_data", "content": _signed_data(content, tsa, wants_certs,
                                                                                     gen_time)})
    return tsp.TimeStampResp({"status": tsp.PKIStatusInfo({"status": tsp.PKIStatus("granted")}),
                              "time_stamp_token": token}).dump()


def _signed_data(content: bytes, tsa: TsaKey, with_certs: bool, when: dt.datetime) -> cms.SignedData:
    """The token's CMS SignedData over the TSTInfo (RFC 3161 § 2.4.2, ESS signing-certificate-v2)."""
    digest = hashes.Hash(hashes.SHA256())
    digest.update(content)
    attrs = cms.CMSAttributes([
        simple_cms_attribute("content_type", "tst_info"),
        simple_cms_attribute("signing_time", cms.Time({"utc_time": core.UTCTime(when)})),
        simple_cms_attribute("signing_certificate_v2", as_signing_certificate_v2(tsa.cert)),
        simple_cms_attribute("message_digest", digest.finalize())])
    signature = tsa.key.sign(attrs.dump(), padding.PKCS1v15(), hashes.SHA256())
    sha256 = algos.DigestAlgorithm({"algorithm": "sha256"})
    signer = cms.SignerInfo({
        "version": "v1",
        "sid": cms.SignerIdentifier({"issuer_and_serial_number": cms.IssuerAndSerialNumber(
            {"issuer": tsa.cert.issuer, "serial_number": tsa.cert.serial_number})}),
        "digest_algorithm": sha256, "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "sha256_rsa"}),
        "signed_attrs": attrs, "signature": signature})
    data = {"version": "v3", "digest_algorithms": [sha256],
            "encap_content_info": {"content_type": "tst_info", "content": cms.ParsableOctetString(content)},
            "signer_infos": [signer]}
    if with_certs:
        data["certificates"] = [tsa.cert, *tsa.chain]
    return cms.SignedData(data)


class LocalTimeStamper(TimeStamper):
    """The development TSA called in process: the same `respond` as its HTTP route, without the network."""

    def __init__(self, tsa: TsaKey):
        """Answer with `tsa`'s key."""
        super().__init__()
        self.tsa = tsa

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        """The TSA's answer to `req`, as the HTTP route would give it."""
        return tsp.TimeStampResp.load(respond(req.dump(), self.tsa))


def http_timestamper(url: str, user: str = "", password: str = "", timeout_s: float = 10) -> TimeStamper:
    """A client of the RFC 3161 TSA at `url` (HTTP Basic authentication when a user is given)."""
    return HTTPTimeStamper(url, timeout=timeout_s, auth=(user, password) if user else None)

