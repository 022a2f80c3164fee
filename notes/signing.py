"""PAdES signature of notes (pyHanko) and its verification.

Key and certificate come from settings (URBASIG_SIGNING_KEY, URBASIG_SIGNING_CERT, URBASIG_SIGNING_CA).
When none is set, a local development CA and signing certificate are generated under var/signing/: they
make real PAdES signatures that validate against that CA, but they have **no legal value**.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import io
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from pyhanko.keys import load_cert_from_pemder
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from gis.errors import InputError

DEV_ORG = "Agence urbaine de Casablanca (DÉVELOPPEMENT — sans valeur légale)"


@dataclass(frozen=True)
class SigningFiles:
    """PEM files of the signing key, its certificate and the CA that issued it."""

    key: Path
    cert: Path
    ca: Path


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "MA"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, DEV_ORG),
                      x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _write(path: Path, data: bytes, secret: bool = False) -> None:
    """Write a file whole or not at all (a reader never sees it half-written)."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    if secret:
        temporary.chmod(0o600)
    os.replace(temporary, path)


def ensure_dev_ca(directory: Path) -> SigningFiles:
    """Create (once) a development CA and a signing certificate in `directory`.

    Concurrent first signatures (threads or worker processes) take a file lock, so one creates the files and
    the others use them: never a key from one run with a certificate from another. The CA is written last.
    """
    files = SigningFiles(directory / "signer-key.pem", directory / "signer-cert.pem", directory / "ca-cert.pem")
    if files.key.exists() and files.cert.exists() and files.ca.exists():
        return files
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (files.key.exists() and files.cert.exists() and files.ca.exists()):
            _create_dev_ca(files)
    return files


def _create_dev_ca(files: SigningFiles) -> None:
    now = dt.datetime.now(dt.UTC)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_cert = (x509.CertificateBuilder().subject_name(_name("urbasig CA de développement"))
               .issuer_name(_name("urbasig CA de développement")).public_key(ca_key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
               .not_valid_after(now + dt.timedelta(days=3650))
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                            crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
               .sign(ca_key, hashes.SHA256()))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (x509.CertificateBuilder().subject_name(_name("Signataire des notes (développement)"))
            .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1825))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(ca_key, hashes.SHA256()))
    _write(files.key, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()), secret=True)
    _write(files.cert, cert.public_bytes(serialization.Encoding.PEM))
    _write(files.ca, ca_cert.public_bytes(serialization.Encoding.PEM))


def sign_pdf(pdf: bytes, files: SigningFiles, reason: str, location: str = "Casablanca",
             passphrase: bytes | None = None) -> bytes:
    """A PAdES (B-B) signature over the whole PDF."""
    signer = signers.SimpleSigner.load(str(files.key), str(files.cert), ca_chain_files=(str(files.ca),),
                                       key_passphrase=passphrase)
    meta = signers.PdfSignatureMetadata(field_name="Signature", md_algorithm="sha256",
                                        subfilter=fields.SigSeedSubFilter.PADES, reason=reason, location=location)
    out = signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf)), meta, signer=signer)
    return out.getvalue()


@dataclass(frozen=True)
class Verification:
    """What a signature check says, in terms a citizen understands."""

    signed: bool
    intact: bool  # the signed bytes were not changed
    whole_document: bool  # nothing was added after the signature
    trusted: bool  # the certificate chains to a trusted authority
    signer: str | None = None
    signed_at: dt.datetime | None = None

    @property
    def valid(self) -> bool:
        """Signature valid, document unchanged, signer trusted."""
        return self.signed and self.intact and self.whole_document and self.trusted


def verify_pdf(pdf: bytes, trust_roots: list[Path]) -> Verification:
    """Check the first signature of a PDF against the trusted authorities."""
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        signatures = reader.embedded_signatures
    except Exception as exc:  # a truncated or non-PDF upload
        raise InputError(f"fichier PDF illisible : {type(exc).__name__}") from None
    if not signatures:
        return Verification(False, False, False, False)
    sig = signatures[0]
    roots = [load_cert_from_pemder(str(p)) for p in trust_roots]
    try:
        status = validate_pdf_signature(sig, ValidationContext(trust_roots=roots, allow_fetching=False))
    except Exception:  # a signature whose structure was damaged
        return Verification(True, False, False, False)
    whole = status.coverage is not None and status.coverage.name == "ENTIRE_FILE"
    return Verification(True, bool(status.intact and status.valid), whole, bool(status.trusted),
                        status.signing_cert.subject.human_friendly if status.signing_cert else None,
                        status.signer_reported_dt)
