"""PAdES signatures of notes (pyHanko) that keep their proof on their own: B-LTA, its refresh, its verification.

A note is signed PAdES B-LTA: the signature carries an RFC 3161 timestamp (trusted signing time, B-T), the
certificates and CRLs that prove the signer valid then go into the document security store (DSS, B-LT),
and a document timestamp seals it all (B-LTA). `refresh_ltv` later adds the current revocation data and a
new archive timestamp before the previous one's certificate expires, as an incremental update (the history
stays in the file). `verify_pdf` needs nothing but the PDF and the root certificate: no network, and any
moment (years later, past the signer's expiry).

Key and certificate come from settings (URBASIG_SIGNING_KEY, URBASIG_SIGNING_CERT, URBASIG_SIGNING_CA) with a
TSA (URBASIG_TSA_URL); when none is set, the development PKI under var/signing/ (notes/pki.py) signs and
timestamps: real signatures that validate against that CA, but with **no legal value**.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from asn1crypto import crl as asn1_crl
from pyhanko.keys import load_cert_from_pemder
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.timestamps import TimeStamper
from pyhanko_certvalidator import ValidationContext

from gis.errors import ConfigError, Conflict, InputError, PayloadTooLarge
from notes.pki import CRL_PATH, DEV_ORG, DevPki, SigningFiles, current_crl, ensure_dev_pki, reading
from notes.tsa import LocalTimeStamper, TsaKey, http_timestamper

if TYPE_CHECKING:
    from settings import Settings

log = logging.getLogger(__name__)

__all__ = ["DEV_ORG", "Ltv", "SigningFiles", "dev_ltv", "ensure_dev_ca", "sign_pdf", "signing_material", "trust_roots"]


@dataclass(frozen=True)
class Ltv:
    """What a long-term signature needs besides the key: a TSA and the revocation data of the chain.

    `crls` are CRLs known locally (DER: the development CA's); with `fetch`, the signer also fetches CRLs and
    OCSP answers from the addresses the certificates name (a real CA).
    """

    timestamper: TimeStamper
    crls: tuple[bytes, ...] = ()
    fetch: bool = False

    def context(self, files: SigningFiles, moment: dt.datetime | None = None) -> ValidationContext:
        """The validation context the signer checks its chain with (and whose revocation data it embeds)."""
        roots = [load_cert_from_pemder(str(p)) for p in files.trust_roots]
        return ValidationContext(trust_roots=roots, crls=[asn1_crl.CertificateList.load(c) for c in self.crls],
                                 allow_fetching=self.fetch, revocation_mode="hard-fail", moment=moment)


def ensure_dev_ca(directory: Path, crl_url: str | None = None) -> SigningFiles:
    """The development CA, signer and TSA of `directory`, created once (notes/pki.py)."""
    return ensure_dev_pki(directory, crl_url)


def dev_ltv(files: SigningFiles) -> Ltv:
    """Timestamps from the development TSA in process, revocation from the development CA's current CRL."""
    assert files.dev is not None, "a development PKI"
    pki = files.dev
    with reading(pki):
        tsa = TsaKey.load(pki.tsa_key, pki.tsa_cert, (files.ca,))
    return Ltv(LocalTimeStamper(tsa), (current_crl(pki),))


def signing_material(settings: Settings) -> tuple[SigningFiles, Ltv]:
    """The configured key, certificates and TSA, or the development PKI and its TSA (no legal value).

    With the development PKI and no URBASIG_TSA_URL, timestamps come from the development TSA in process (the
    same RFC 3161 code as its HTTP route /dev/tsa, so the CLI and workers sign without a server running) and
    the CRL is read from var/signing; a configured TSA is called over HTTP; a real CA's revocation data is
    fetched from the addresses its certificates name.
    """
    if settings.signing_key and settings.signing_cert and settings.signing_ca:
        files = SigningFiles(Path(settings.signing_key), Path(settings.signing_cert), Path(settings.signing_ca))
    else:
        files = ensure_dev_pki(Path(settings.var_dir) / "signing", settings.public_base + CRL_PATH)
    if settings.tsa_ca:
        files = replace(files, tsa_ca=Path(settings.tsa_ca))
    if not settings.tsa_url:
        if files.dev is None:
            raise ConfigError("URBASIG_TSA_URL est vide : la clé de signature configurée a besoin d'une autorité "
                              "d'horodatage (RFC 3161)")
        return files, dev_ltv(files)
    timestamper = http_timestamper(settings.tsa_url, settings.tsa_user, settings.tsa_password, settings.tsa_timeout_s)
    if files.dev is not None:
        return files, Ltv(timestamper, (current_crl(files.dev),))
    return files, Ltv(timestamper, fetch=True)


def trust_roots(settings: Settings) -> list[Path]:
    """The roots notes verify against, without building any signing set-up (no TSA needed, nothing created).

    The configured CA (and TSA root), else the development CA of var/signing and those it replaced, when they
    exist: before the first development signature there is nothing to trust.
    """
    if settings.signing_ca:
        return [Path(settings.signing_ca), *([Path(settings.tsa_ca)] if settings.tsa_ca else [])]
    pki = DevPki(Path(settings.var_dir) / "signing")
    ca = pki.path("ca-cert.pem")
    return [*([ca] if ca.exists() else []), *([Path(settings.tsa_ca)] if settings.tsa_ca else []),
            *pki.retired_roots()]


def sign_pdf(pdf: bytes, files: SigningFiles, reason: str, location: str = "Casablanca",
             passphrase: bytes | None = None, ltv: Ltv | None = None) -> bytes:
    """A PAdES signature over the whole PDF: B-LTA with `ltv` (timestamp, DSS, archive timestamp), else B-B.

    With `ltv` the signer's chain is checked first (revoked, expired or untrusted: refused, nothing signed);
    without, nothing is checked (B-B: tests and the legacy path only).
    """
    with reading(files.dev):
        signer = signers.SimpleSigner.load(str(files.key), str(files.cert), ca_chain_files=(str(files.ca),),
                                           key_passphrase=passphrase)
    if ltv is None:
        meta = signers.PdfSignatureMetadata(field_name="Signature", md_algorithm="sha256",
                                            subfilter=fields.SigSeedSubFilter.PADES, reason=reason, location=location)
        return signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf)), meta, signer=signer).getvalue()
    meta = signers.PdfSignatureMetadata(field_name="Signature", md_algorithm="sha256",
                                        subfilter=fields.SigSeedSubFilter.PADES, reason=reason, location=location,
                                        embed_validation_info=True, use_pades_lta=True,
                                        validation_context=ltv.context(files))
    try:
        out = signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf)), meta, signer=signer,
                               timestamper=ltv.timestamper)
    except Exception as exc:  # pyHanko's validation errors: a revoked or expired signer, a TSA that refused
        raise _signing_error(exc) from exc
    return out.getvalue()


class SigningRefused(Conflict):
    """The signer's chain or the TSA refuses the signature (or the archive timestamp): nothing is signed."""

    code = "signature-refusee"


def _signing_error(exc: Exception) -> SigningRefused:
    """The refusal in French; pyHanko's English detail goes to the log only."""
    from pyhanko.sign.timestamps import TimestampRequestError
    from pyhanko_certvalidator.errors import PathValidationError, RevokedError

    log.warning("signature refusée : %s: %s", type(exc).__name__, exc)
    if isinstance(exc, RevokedError):
        return SigningRefused("signature refusée : le certificat du signataire (ou de l'horodatage) est révoqué")
    if isinstance(exc, TimestampRequestError):
        return SigningRefused("signature refusée : l'autorité d'horodatage n'a pas répondu")
    if isinstance(exc, PathValidationError):
        return SigningRefused("signature refusée : chaîne de certificats non valide (expirée, non reconnue ou "
                              "sans données de révocation)")
    return SigningRefused("signature refusée : le certificat du signataire n'a pas pu être validé")


LEVELS = ("B-B", "B-T", "B-LT", "B-LTA")


@dataclass(frozen=True)
class ArchiveTimestamp:
    """One document timestamp of the archive chain (B-LTA), oldest first."""

    at: dt.datetime
    tsa: str
    valid_until: dt.datetime  # its TSA certificate's end: the chain must be refreshed before


@dataclass(frozen=True)
class Verification:
    """What a signature check says, in terms a citizen understands (and what a long-term check adds)."""

    signed: bool
    intact: bool  # the signed bytes were not changed
    whole_document: bool  # nothing was added after the signature but its own maintenance (DSS, archive timestamps)
    trusted: bool  # the certificate chains to a trusted authority and was valid when it signed
    signer: str | None = None
    signed_at: dt.datetime | None = None  # the trusted time (RFC 3161 timestamp), else what the signer claimed
    timestamped: bool = False  # signed_at comes from a timestamp, not from the signer's own clock
    level: str = "B-B"
    revocation_embedded: bool = False  # CRLs or OCSP answers in the document's security store
    revoked_at: dt.datetime | None = None  # the signer's revocation known from the embedded data
    archive: tuple[ArchiveTimestamp, ...] = ()
    problem: str | None = None  # why it does not verify, in French

    @property
    def valid(self) -> bool:
        """Signature valid, document unchanged, signer trusted."""
        return self.signed and self.intact and self.whole_document and self.trusted

    @property
    def refresh_by(self) -> dt.datetime | None:
        """When the last archive timestamp stops proving anything: refresh before."""
        return self.archive[-1].valid_until if self.archive else None

    def describe(self) -> str:
        """The verification in French, one fact a line (the CLI's output)."""
        def when(moment: dt.datetime | None) -> str:
            return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "—"

        if not self.signed:
            return "Signature : aucune (PDF non signé)"
        lines = [f"Signature : {'valide' if self.valid else 'NON VALIDE'}"
                 + (f" ({self.problem})" if self.problem and not self.valid else ""),
                 f"Document intact : {'oui' if self.intact and self.whole_document else 'non'}",
                 f"Signataire : {self.signer or '—'}",
                 f"Signée le : {when(self.signed_at)} ("
                 + ("horodatage RFC 3161)" if self.timestamped else "heure déclarée par le signataire, non prouvée)"),
                 f"Signataire valide à cette date : {'oui' if self.trusted else 'non'}",
                 f"Données de révocation intégrées : {'oui' if self.revocation_embedded else 'non'}"
                 + (f" ; certificat révoqué le {when(self.revoked_at)}" if self.revoked_at else ""),
                 f"Profil PAdES : {self.level}"]
        if self.archive:
            lines.append("Horodatages d'archive :")
            lines += [f"  {i}. {when(a.at)} — {a.tsa} (certificat valable jusqu'au {when(a.valid_until)})"
                      for i, a in enumerate(self.archive, 1)]
            lines.append(f"À rafraîchir avant : {when(self.refresh_by)} (urbasig notes refresh-ltv)")
        return "\n".join(lines)


def _policy(roots: list, moment: dt.datetime):
    """pyHanko's AdES validation spec: offline (only what the PDF holds), at `moment`.

    Revocation is checked where a certificate declares where to find it. Timestamps' certificates tolerate
    missing revocation data: the newest archive timestamp's TSA status after its own date is never in the file
    (the next refresh adds it), and a verifier offline cannot fetch it.
    """
    from pyhanko.sign.validation.policy_decl import (
        PdfSignatureValidationSpec,
        RevinfoOnlineFetchingRule,
        RevocationInfoGatheringSpec,
        SignatureValidationSpec,
    )
    from pyhanko_certvalidator.context import CertValidationPolicySpec
    from pyhanko_certvalidator.ltv.types import ValidationTimingInfo
    from pyhanko_certvalidator.policy_decl import CertRevTrustPolicy, RevocationCheckingPolicy, RevocationCheckingRule
    from pyhanko_certvalidator.registry import SimpleTrustManager

    def cert_policy(rule: RevocationCheckingRule) -> CertValidationPolicySpec:
        return CertValidationPolicySpec(trust_manager=SimpleTrustManager.build(trust_roots=roots),
                                        revinfo_policy=CertRevTrustPolicy(RevocationCheckingPolicy(rule, rule)))

    spec = SignatureValidationSpec(cert_validation_policy=cert_policy(RevocationCheckingRule.CHECK_IF_DECLARED),
                                   ts_cert_validation_policy=cert_policy(RevocationCheckingRule.CHECK_IF_DECLARED_SOFT),
                                   revinfo_gathering_policy=RevocationInfoGatheringSpec(
                                       online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY))
    return PdfSignatureValidationSpec(spec), ValidationTimingInfo(moment, moment, point_in_time_validation=True)


MAX_REVISIONS = 32  # a note has ~3 revisions, and 2 more per refresh: far more is an upload built to tire us
MAX_SIGNATURES = 16  # its signature and one archive timestamp per refresh


class VerificationTooLarge(PayloadTooLarge):
    """An upload with more revisions or signatures than any note: refused before its validation starts."""

    code = "pdf-trop-de-revisions"


def verify_pdf(pdf: bytes, trust_roots: list[Path], moment: dt.datetime | None = None,
               max_revisions: int = MAX_REVISIONS) -> Verification:
    """Check the first signature of a PDF against the trusted authorities, offline, as of `moment` (now).

    The long-term check (pyHanko's PAdES B-LTA validation, ETSI EN 319 102-1): the signer must have been valid
    at the signature's proven time (its timestamp, or the oldest archive timestamp), with the revocation data
    embedded when its certificate names some; the archive timestamps prove the embedded data existed then.
    A file with more than `max_revisions` incremental updates (or MAX_SIGNATURES signatures) is refused before
    any validation (413); a damaged one reads « signature endommagée », never an error.
    """
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        revisions = reader.xrefs.total_revisions
    except Exception as exc:  # a truncated or non-PDF upload
        raise InputError(f"fichier PDF illisible : {type(exc).__name__}") from None
    if revisions > max_revisions:
        raise VerificationTooLarge(f"PDF refusé : {revisions} révisions, une note en a au plus {max_revisions}")
    try:
        signatures = reader.embedded_signatures
    except Exception as exc:
        raise InputError(f"fichier PDF illisible : {type(exc).__name__}") from None
    if len(signatures) > MAX_SIGNATURES:
        raise VerificationTooLarge(f"PDF refusé : {len(signatures)} signatures, une note en a au plus "
                                   f"{MAX_SIGNATURES}")
    regular = [s for s in signatures if s.sig_object_type == "/Sig"]
    if not regular:
        return Verification(False, False, False, False)
    moment = moment or dt.datetime.now(dt.UTC)
    roots = [load_cert_from_pemder(str(p)) for p in trust_roots]
    try:
        return _verified(reader, regular[0], roots, moment)
    except Exception:  # a signature, timestamp or CRL whose structure was damaged
        log.info("signature endommagée", exc_info=True)
        return Verification(True, False, False, False, problem=DAMAGED)


DAMAGED = "signature endommagée"
# pyHanko's sub-indications for a signer revoked before the signature's proven time (offline, it cannot tell
# « revoked » from « no proof the signature was earlier » and says NO_POE)
REVOKED_INDICATIONS = frozenset({"REVOKED", "REVOKED_NO_POE", "NO_POE"})


def _verified(reader: PdfFileReader, sig, roots: list, moment: dt.datetime) -> Verification:
    from pyhanko.sign.ades.report import AdESPassed
    from pyhanko.sign.validation.ades import ades_lta_validation

    spec, timing = _policy(roots, moment)
    result = asyncio.run(ades_lta_validation(sig, spec, timing_info=timing))
    status = result.api_status
    if status is None:
        log.info("validation PAdES impossible : %s", result.failure_msg)
        return Verification(True, False, False, False, problem=_problem(result))
    if not _timestamped(sig):  # AdES with time needs a signature timestamp: a B-B note (signed before B-LTA)
        return _basic(reader, sig, roots, moment)
    stamp = status.timestamp_validity
    archive = _archive(reader)
    dss = _dss(reader)
    crls = _crls(dss, roots, sig) if dss is not None else []
    revoked_at = _revoked_at(crls, sig.signer_cert)
    whole = _whole(reader, status)
    trusted = result.ades_subindic == AdESPassed.OK
    signed_at = stamp.timestamp if stamp else _token_time(sig)
    level = _level(True, bool(crls) or bool(dss is not None and dss.ocsps), _archived(reader, roots, moment))
    problem = None if trusted else _problem(result)
    # only from a CRL a trusted issuer signed, a validated timestamp, and what pyHanko says of a revoked signer
    if (_indication(result) in REVOKED_INDICATIONS and revoked_at is not None and stamp is not None
            and stamp.valid and stamp.trusted and revoked_at <= stamp.timestamp):
        problem = (f"le certificat du signataire était révoqué le {revoked_at:%Y-%m-%d %H:%M:%S} UTC, avant la "
                   f"signature ({signed_at:%Y-%m-%d %H:%M:%S} UTC)")
    return Verification(True, bool(status.intact and status.valid), whole, trusted,
                        sig.signer_cert.subject.human_friendly, signed_at, True, level,
                        bool(crls or (dss is not None and dss.ocsps)), revoked_at, archive, problem)


def _whole(reader: PdfFileReader, status) -> bool:
    """Nothing added after the signature but its maintenance: DSS updates and archive timestamps.

    pyHanko's difference analysis tells maintenance from other changes; a signature with no archive timestamp
    must cover the whole file (a B-B note is never maintained).
    """
    from pyhanko.sign.validation.status import ModificationLevel, SignatureCoverageLevel

    if status.coverage == SignatureCoverageLevel.ENTIRE_FILE:
        return True
    return (status.modification_level == ModificationLevel.LTA_UPDATES and bool(status.docmdp_ok)
            and bool(reader.embedded_timestamp_signatures))


def _timestamped(sig) -> bool:
    """Whether the signature carries an RFC 3161 signature timestamp (unsigned attribute)."""
    from pyhanko.sign.validation.generic_cms import extract_tst_data_iter

    return next(iter(extract_tst_data_iter(sig.signer_info, signed=False)), None) is not None


def _token_time(sig) -> dt.datetime | None:
    """The time the signature timestamp states (when pyHanko could not vouch for it: still reported)."""
    from pyhanko.sign.validation.generic_cms import extract_tst_data_iter

    token = next(iter(extract_tst_data_iter(sig.signer_info, signed=False)))
    return token["encap_content_info"]["content"].parsed["gen_time"].native


def _basic(reader: PdfFileReader, sig, roots: list, moment: dt.datetime) -> Verification:
    """A note without signature timestamp (signed B-B before B-LTA), checked at its proven time.

    Upgraded by refresh-ltv, its archive timestamps prove the signature existed at the first one's time: the
    signer is checked then (ETSI's proof of existence), when that chain validates at `moment`; else at `moment`.
    """
    from pyhanko.sign.validation import validate_pdf_signature

    dss = _dss(reader)
    crls = _crls(dss, roots, sig) if dss is not None else []
    proven = _archive_proof(reader, roots, crls, moment)
    status = validate_pdf_signature(sig, ValidationContext(trust_roots=roots, crls=crls, allow_fetching=False,
                                                           revocation_mode="hard-fail", moment=proven or moment))
    whole = _whole(reader, status)
    return Verification(True, bool(status.intact and status.valid), whole, bool(status.trusted),
                        sig.signer_cert.subject.human_friendly, sig.self_reported_timestamp, False,
                        _level(False, bool(crls) or bool(dss is not None and dss.ocsps), proven is not None),
                        bool(crls), _revoked_at(crls, sig.signer_cert), _archive(reader),
                        None if status.trusted else "signataire non valide à cette date (signature sans horodatage)")


def _indication(result) -> str:
    return str(getattr(result.ades_subindic, "name", result.ades_subindic))


def _problem(result) -> str:
    """pyHanko's sub-indication in French (its English message goes to the log only)."""
    indication = _indication(result)
    texts = {"REVOKED": "le certificat du signataire était révoqué quand il a signé",
             "REVOKED_NO_POE": "le certificat du signataire est révoqué et rien ne prouve que la signature est antérieure",
             "EXPIRED": "le certificat du signataire a expiré et rien ne prouve que la signature est antérieure",
             "OUT_OF_BOUNDS_NO_POE": "le certificat du signataire a expiré et rien ne prouve que la signature est "
                                     "antérieure",
             "NO_CERTIFICATE_CHAIN_FOUND": "le signataire ne relève d'aucune autorité de confiance",
             "HASH_FAILURE": "le document a été modifié après la signature",
             "SIG_CRYPTO_FAILURE": "la signature ne correspond pas au document",
             "FORMAT_FAILURE": DAMAGED,
             "TRY_LATER": "données de révocation absentes du document",
             "NO_POE": "aucune preuve d'existence (horodatage) exploitable"}
    if indication not in texts:
        log.info("vérification non concluante : %s (%s)", indication, getattr(result, "failure_msg", None))
    return texts.get(indication, f"vérification non concluante ({indication})")


def _level(timestamped: bool, has_revocation: bool, archived: bool) -> str:
    """B-LTA: a validated archive timestamp covers the DSS; B-LT: the DSS holds revocation data; B-T: timestamped."""
    if archived and has_revocation:
        return "B-LTA"
    if not timestamped:
        return "B-B"
    return "B-LT" if has_revocation else "B-T"


def _dss(reader: PdfFileReader):
    from pyhanko.sign.validation.dss import DocumentSecurityStore
    from pyhanko.sign.validation.errors import ValidationInfoReadingError

    try:
        return DocumentSecurityStore.read_dss(reader)
    except ValidationInfoReadingError:
        return None


def _issuers(roots: list, sig) -> list:
    """The certificates a CRL may be signed by: the trusted roots and the intermediates they issued."""
    from cryptography import x509 as cx509

    def parsed(cert) -> cx509.Certificate:
        return cx509.load_der_x509_certificate(cert.dump())

    trusted = [parsed(r) for r in roots]
    out = list(trusted)
    for cert in sig.signed_data["certificates"] or []:
        candidate = parsed(cert.chosen)
        for root in trusted:
            try:
                candidate.verify_directly_issued_by(root)
            except Exception:  # not issued by this root (or not a CA): never trusted for CRLs
                continue
            out.append(candidate)
    return out


def _crls(dss, roots: list, sig) -> list:
    """The CRLs of the document's security store signed by a trusted issuer (anyone can append a CRL)."""
    from cryptography import x509 as cx509
    from pyhanko.pdf_utils.decode_limits import DecodePurpose

    issuers = _issuers(roots, sig)
    out = []
    for ref in dss.crls:
        der = ref.get_object().read_data(DecodePurpose.CRL)
        parsed = cx509.load_der_x509_crl(der)
        if any(i.subject == parsed.issuer and parsed.is_signature_valid(i.public_key()) for i in issuers):
            out.append(asn1_crl.CertificateList.load(der))
    return out


def _revoked_at(crls: list, cert) -> dt.datetime | None:
    """When the signer's certificate was revoked, according to the trusted CRLs the document carries."""
    for crl in crls:
        if crl["tbs_cert_list"]["issuer"] != cert.issuer:
            continue
        for entry in crl["tbs_cert_list"]["revoked_certificates"] or []:
            if entry["user_certificate"].native == cert.serial_number:
                return entry["revocation_date"].native
    return None


def _stamp_time(ts) -> dt.datetime:
    return ts.signed_data["encap_content_info"]["content"].parsed["gen_time"].native


def _archive(reader: PdfFileReader) -> tuple[ArchiveTimestamp, ...]:
    """The document timestamps after the signature, oldest first, with their TSA certificate's end."""
    out = []
    for ts in reader.embedded_timestamp_signatures:
        cert = ts.signer_cert
        out.append(ArchiveTimestamp(_stamp_time(ts), cert.subject.human_friendly,
                                    cert["tbs_certificate"]["validity"]["not_after"].native))
    return tuple(sorted(out, key=lambda a: a.at))


def _archive_proof(reader: PdfFileReader, roots: list, crls: list, moment: dt.datetime) -> dt.datetime | None:
    """The first archive timestamp's time when the whole chain proves it: else None.

    Each document timestamp must be intact, cover a revision holding the DSS, and chain to a trusted root at
    the next one's time (the last: at `moment`), so each proves the one before existed while it was valid.
    """
    from pyhanko.sign.validation import validate_pdf_timestamp

    stamps = sorted(reader.embedded_timestamp_signatures, key=_stamp_time)
    if not stamps:
        return None
    for ts, following in zip(stamps, [*stamps[1:], None], strict=True):
        at = _stamp_time(following) if following is not None else moment
        context = ValidationContext(trust_roots=roots, crls=crls, allow_fetching=False, revocation_mode="soft-fail",
                                    moment=at)
        status = validate_pdf_timestamp(ts, validation_context=context, skip_diff=True)
        if not (status.intact and status.valid and status.trusted):
            return None
        if "/DSS" not in reader.get_historical_root(ts.signed_revision):
            return None
    return _stamp_time(stamps[0])


def _archived(reader: PdfFileReader, roots: list, moment: dt.datetime) -> bool:
    dss = _dss(reader)
    return dss is not None and _archive_proof(reader, roots, [], moment) is not None


def refresh_ltv(pdf: bytes, files: SigningFiles, ltv: Ltv) -> bytes:
    """The PDF with today's revocation data in its security store and a new archive timestamp over everything.

    An incremental update: the bytes before it are kept as they were (every earlier version still verifies
    and is found by its digest). Refused, with the reason, when the note does not verify today: an archive
    timestamp only proves something of a signature that is valid when it is added.
    """
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    check = verify_pdf(pdf, files.trust_roots)
    if not check.valid:
        raise SigningRefused(f"note non rafraîchie : {check.problem or 'signature non valide'}")
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
        sig = PdfFileReader(io.BytesIO(pdf)).embedded_regular_signatures[0]
        context = ltv.context(files)
        chain = [sig.signer_cert, *[load_cert_from_pemder(str(p)) for p in files.trust_roots]]
        dss = DocumentSecurityStore.supply_dss_in_writer(writer, None, certs=chain, validation_context=context)
        out = io.BytesIO()
        if dss.modified:
            writer.write(out)
        else:
            out.write(pdf)
        stamped = signers.PdfTimeStamper(ltv.timestamper).update_archival_timestamp_chain(
            PdfFileReader(out), context, in_place=False)
    except Exception as exc:  # revocation data out of reach, the previous archive timestamp fails, the TSA refused
        raise _signing_error(exc) from exc
    result = stamped.getvalue()
    after = verify_pdf(result, files.trust_roots)
    if not after.valid or after.level != "B-LTA":
        raise SigningRefused(f"note non rafraîchie : la version rafraîchie ne se vérifie pas "
                             f"({after.problem or after.level})")
    return result


def revision_ends(pdf: bytes, limit: int = MAX_REVISIONS * 2) -> list[int]:
    """Where each revision of a PDF may end (after each « %%EOF » and its end of line), shortest first.

    The candidates an upload's versions are looked up by (their SHA-256): a known version followed by more
    bytes is a delivered note with additions nobody here vouched for. At most `limit` (never all of a file
    built with thousands of markers).
    """
    ends: list[int] = []
    at = pdf.find(b"%%EOF")
    while at >= 0 and len(ends) < limit:
        end = at + 5
        ends.append(end)
        for eol in (b"\r\n", b"\n", b"\r"):
            if pdf.startswith(eol, end):
                ends.append(end + len(eol))
                break
        at = pdf.find(b"%%EOF", end)
    return [e for e in ends if e < len(pdf)]
