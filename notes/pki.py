"""The development PKI: a CA, the notes' signing certificate, a time-stamping certificate and the CA's CRL.

Everything lives in one directory (var/signing/ by default) and has **no legal value**: it lets a fresh machine
run the whole chain (PAdES B-LTA signatures, RFC 3161 timestamps, revocation) without any outside authority.
The CA key is kept (mode 600) so the CA can publish its certificate revocation list (CRL) and revoke a
certificate; each certificate names the CRL's address (its distribution point). A directory made before the
CA key was kept (a « legacy » CA: no ca-key.pem) is retired once: its CA certificate stays trusted for the
notes it signed, and a new CA replaces it.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gis.errors import InputError, NotFound

DEV_ORG = "Agence urbaine de Casablanca (DÉVELOPPEMENT — sans valeur légale)"
CRL_PATH = "/dev/ca.crl"  # where the app serves the development CA's CRL (api/dev_pki.py)
CRL_DAYS = 7  # a CRL's nextUpdate; it is issued again when half of that has gone
SIGNER_DAYS, TSA_DAYS, CA_DAYS = 1825, 1095, 7300
TSA_RENEW_DAYS = 365  # a TSA certificate with less left is replaced (refresh-ltv needs a TSA that outlives it)
REASONS = {"compromission": x509.ReasonFlags.key_compromise, "remplacement": x509.ReasonFlags.superseded,
           "cessation": x509.ReasonFlags.cessation_of_operation, "non-precise": x509.ReasonFlags.unspecified}


@dataclass(frozen=True)
class SigningFiles:
    """PEM files of the signing key, its certificate and the CA that issued it (with the dev PKI's, if any)."""

    key: Path
    cert: Path
    ca: Path
    dev: DevPki | None = None  # the development PKI the files belong to; None for configured (real) material
    tsa_ca: Path | None = None  # the root of a TSA that another authority certifies (URBASIG_TSA_CA)

    @property
    def trust_roots(self) -> list[Path]:
        """The root certificates a note signed by this material verifies against (retired dev CAs too)."""
        return [self.ca, *([self.tsa_ca] if self.tsa_ca else []), *(self.dev.retired_roots() if self.dev else [])]


@dataclass(frozen=True)
class DevPki:
    """The files of the development PKI in one directory."""

    directory: Path

    def path(self, name: str) -> Path:
        """A file of the PKI."""
        return self.directory / name

    @property
    def tsa_key(self) -> Path:
        """The development TSA's private key."""
        return self.path("tsa-key.pem")

    @property
    def tsa_cert(self) -> Path:
        """The development TSA's certificate (extended key usage timeStamping, issued by the CA)."""
        return self.path("tsa-cert.pem")

    @property
    def crl(self) -> Path:
        """The CA's current CRL (DER)."""
        return self.path("ca.crl")

    def retired_roots(self) -> list[Path]:
        """CA certificates of the development CAs this one replaced (still trusted for what they signed)."""
        retired = self.path("retired")
        return sorted(retired.glob("ca-*.pem")) if retired.is_dir() else []


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "MA"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, DEV_ORG),
                      x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _write(path: Path, data: bytes, secret: bool = False) -> None:
    """Write a file whole or not at all (a reader never sees it half-written); a secret is 0600 from its creation."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if secret else 0o644)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(temporary, path)


def _pem_key(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@contextmanager
def _locked(directory: Path, shared: bool = False) -> Iterator[None]:
    """One process at a time changes the PKI (workers start together; a revocation while a worker signs);
    `shared`: a reader of a key and its certificate, never between a renewal's two writes."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)  # private keys inside: only the service's user may list or read it
    with open(directory / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield


def reading(pki: DevPki | None) -> AbstractContextManager[None]:
    """Hold while loading a key with its certificate: a signer replaced or a TSA renewed meanwhile cannot pair
    the new key with the old certificate (no lock for configured material: nothing here changes it)."""
    return _locked(pki.directory, shared=True) if pki is not None else nullcontext()


def _usage(*, sign: bool = False, commitment: bool = False, ca: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=sign, content_commitment=commitment, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                         encipher_only=False, decipher_only=False)


def new_ca(common: str = "urbasig CA de développement", days: int = CA_DAYS) -> tuple[rsa.RSAPrivateKey,
                                                                                      x509.Certificate]:
    """A self-signed development CA (key and certificate)."""
    now = dt.datetime.now(dt.UTC)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (x509.CertificateBuilder().subject_name(_name(common)).issuer_name(_name(common))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_usage(ca=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return key, cert


def issue(ca_key: rsa.RSAPrivateKey, ca_cert: x509.Certificate, common: str, not_before: dt.datetime,
          not_after: dt.datetime, crl_url: str | None,
          time_stamping: bool = False) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """A new key and its end-entity certificate from the CA: the notes' signer, or a TSA with `time_stamping`."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    builder = (x509.CertificateBuilder().subject_name(_name(common)).issuer_name(ca_cert.subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(not_before).not_valid_after(not_after)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                              critical=False)
               .add_extension(_usage(sign=True, commitment=not time_stamping), critical=True))
    if time_stamping:  # RFC 3161 § 2.3: timeStamping as the only extended key usage, critical
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
    if crl_url:
        builder = builder.add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
            [x509.UniformResourceIdentifier(crl_url)], None, None, None)]), critical=False)
    return key, builder.sign(ca_key, hashes.SHA256())


def issue_crl(ca_key: rsa.RSAPrivateKey, ca_cert: x509.Certificate, revoked: list[Revocation], number: int,
              now: dt.datetime | None = None, days: int = CRL_DAYS) -> bytes:
    """The CA's CRL (DER) listing `revoked`, valid from now for `days`."""
    now = now or dt.datetime.now(dt.UTC)
    builder = (x509.CertificateRevocationListBuilder().issuer_name(ca_cert.subject).last_update(now)
               .next_update(now + dt.timedelta(days=days))
               .add_extension(x509.CRLNumber(number), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                              critical=False))
    for entry in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(entry.serial).revocation_date(entry.revoked_at)
            .add_extension(x509.CRLReason(REASONS[entry.reason]), critical=False).build())
    return builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


@dataclass(frozen=True)
class Revocation:
    """One revoked certificate: serial number, when, why (a key of REASONS)."""

    serial: int
    revoked_at: dt.datetime
    reason: str

    def line(self) -> str:
        """The line of revoked.txt."""
        return f"{self.serial:x}\t{self.revoked_at.isoformat()}\t{self.reason}\n"

    @classmethod
    def parse(cls, line: str) -> Revocation:
        """A line of revoked.txt."""
        serial, when, reason = line.rstrip("\n").split("\t")
        return cls(int(serial, 16), dt.datetime.fromisoformat(when), reason)


def _load_key(path: Path) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def load_cert(path: Path) -> x509.Certificate:
    """A PEM certificate."""
    return x509.load_pem_x509_certificate(path.read_bytes())


def ensure_dev_pki(directory: Path, crl_url: str | None = None) -> SigningFiles:
    """The development PKI of `directory`, created on first use: CA (with its key), signer, TSA, CRL.

    Concurrent first uses (threads or worker processes) take a file lock, so one creates the files and the
    others use them: never a key from one run with a certificate from another. A legacy directory (a CA
    without its key) is retired first; a TSA certificate close to its end is renewed.
    """
    pki = DevPki(directory)
    files = SigningFiles(pki.path("signer-key.pem"), pki.path("signer-cert.pem"), pki.path("ca-cert.pem"), pki)
    if _complete(pki) and _tsa_fresh(pki):
        return files
    with _locked(directory):
        if not pki.path("ca-key.pem").exists() and files.ca.exists():
            _retire(pki)
        if not _complete(pki):
            _create(pki, crl_url)
        elif not _tsa_fresh(pki):
            _new_tsa(pki, _load_key(pki.path("ca-key.pem")), load_cert(files.ca))
    return files


_NAMES = ("ca-key.pem", "ca-cert.pem", "signer-key.pem", "signer-cert.pem", "tsa-key.pem", "tsa-cert.pem")


def _complete(pki: DevPki) -> bool:
    return all(pki.path(name).exists() for name in _NAMES)


def _tsa_fresh(pki: DevPki) -> bool:
    left = load_cert(pki.tsa_cert).not_valid_after_utc - dt.datetime.now(dt.UTC)
    return left > dt.timedelta(days=TSA_RENEW_DAYS)


def _retire(pki: DevPki) -> None:
    """Keep a legacy CA's certificate as a trusted root for the notes it signed; move its signer's certificate
    away and delete its private key (never kept, nor in backups: nothing is signed with it again)."""
    retired = pki.path("retired")
    retired.mkdir(exist_ok=True)
    ca = load_cert(pki.path("ca-cert.pem"))
    os.replace(pki.path("ca-cert.pem"), retired / f"ca-{ca.serial_number:x}.pem")
    if pki.path("signer-cert.pem").exists():
        os.replace(pki.path("signer-cert.pem"), retired / f"{ca.serial_number:x}-signer-cert.pem")
    pki.path("signer-key.pem").unlink(missing_ok=True)


def _create(pki: DevPki, crl_url: str | None) -> None:
    now = dt.datetime.now(dt.UTC)
    ca_key, ca_cert = new_ca()
    key, cert = issue(ca_key, ca_cert, "Signataire des notes (développement)", now - dt.timedelta(days=1),
                      now + dt.timedelta(days=SIGNER_DAYS), crl_url)
    _write(pki.path("ca-key.pem"), _pem_key(ca_key), secret=True)
    _write(pki.path("signer-key.pem"), _pem_key(key), secret=True)
    _write(pki.path("signer-cert.pem"), cert.public_bytes(serialization.Encoding.PEM))
    _new_tsa(pki, ca_key, ca_cert)
    _write(pki.crl, issue_crl(ca_key, ca_cert, [], 1, now))
    _write(pki.path("ca-cert.pem"), ca_cert.public_bytes(serialization.Encoding.PEM))  # last: the PKI is complete


def _new_tsa(pki: DevPki, ca_key: rsa.RSAPrivateKey, ca_cert: x509.Certificate) -> None:
    now = dt.datetime.now(dt.UTC)
    # no CRL address: the newest archive timestamp must verify offline until its certificate ends (verify_pdf)
    key, cert = issue(ca_key, ca_cert, "Horodatage des notes (développement, sans valeur légale)",
                      now - dt.timedelta(days=1), now + dt.timedelta(days=TSA_DAYS), None, time_stamping=True)
    _write(pki.tsa_key, _pem_key(key), secret=True)
    _write(pki.tsa_cert, cert.public_bytes(serialization.Encoding.PEM))


def revocations(pki: DevPki) -> list[Revocation]:
    """The certificates the development CA revoked."""
    path = pki.path("revoked.txt")
    return [Revocation.parse(line) for line in path.read_text().splitlines(keepends=True)] if path.exists() else []


def current_crl(pki: DevPki) -> bytes:
    """The CA's CRL (DER), issued again when half of its validity has gone.

    A fresh CRL is read without the lock (files are replaced whole: a reader gets the old or the new one);
    only a reissue takes it, so /dev/ca.crl and every signature do not queue behind each other.
    """
    fresh = _fresh_crl(pki)
    if fresh is not None:
        return fresh
    with _locked(pki.directory):
        return _fresh_crl(pki) or _reissue(pki)


def _fresh_crl(pki: DevPki) -> bytes | None:
    try:
        data = pki.crl.read_bytes()
    except FileNotFoundError:
        return None
    crl = x509.load_der_x509_crl(data)
    assert crl.next_update_utc is not None
    return data if crl.next_update_utc - dt.datetime.now(dt.UTC) > dt.timedelta(days=CRL_DAYS / 2) else None


def _reissue(pki: DevPki) -> bytes:
    number = 1
    if pki.crl.exists():
        number = x509.load_der_x509_crl(pki.crl.read_bytes()).extensions.get_extension_for_class(
            x509.CRLNumber).value.crl_number + 1
    data = issue_crl(_load_key(pki.path("ca-key.pem")), load_cert(pki.path("ca-cert.pem")), revocations(pki), number)
    _write(pki.crl, data)
    return data


def revoke(pki: DevPki, serial: int, reason: str = "compromission",
           when: dt.datetime | None = None) -> Revocation:
    """Revoke a certificate of the development CA (by serial number) and issue the CRL again."""
    if reason not in REASONS:
        raise InputError(f"motif de révocation inconnu « {reason} » (motifs : {', '.join(REASONS)})")
    if not pki.path("ca-key.pem").exists():
        raise NotFound(f"aucune autorité de développement dans {pki.directory}")
    with _locked(pki.directory):
        if any(r.serial == serial for r in revocations(pki)):
            raise InputError(f"le certificat n° {serial:x} est déjà révoqué")
        entry = Revocation(serial, (when or dt.datetime.now(dt.UTC)).replace(microsecond=0), reason)
        with open(pki.path("revoked.txt"), "a") as out:
            out.write(entry.line())
        _reissue(pki)
        signer = load_cert(pki.path("signer-cert.pem"))
        if signer.serial_number == serial:  # the notes' own signer: a new one takes over, the old one is kept
            _replace_signer(pki, signer)
    return entry


def _replace_signer(pki: DevPki, old: x509.Certificate) -> None:
    retired = pki.path("retired")
    retired.mkdir(exist_ok=True)
    os.replace(pki.path("signer-cert.pem"), retired / f"signer-{old.serial_number:x}.pem")
    try:
        points = old.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
        crl_url = points[0].full_name[0].value if points[0].full_name else None
    except x509.ExtensionNotFound:
        crl_url = None
    now = dt.datetime.now(dt.UTC)
    key, cert = issue(_load_key(pki.path("ca-key.pem")), load_cert(pki.path("ca-cert.pem")),
                      "Signataire des notes (développement)", now - dt.timedelta(minutes=5),
                      now + dt.timedelta(days=SIGNER_DAYS), crl_url)
    _write(pki.path("signer-key.pem"), _pem_key(key), secret=True)
    _write(pki.path("signer-cert.pem"), cert.public_bytes(serialization.Encoding.PEM))
