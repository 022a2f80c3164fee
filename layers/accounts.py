"""Accounts: scrypt password hashes, e-mail verification (link and short code, only hashes stored), sign-in, roles."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import psycopg
from psycopg.rows import dict_row

from gis.errors import Conflict, Forbidden, InputError, NotFound, TooManyRequests, Unauthorized
from gis.jsontext import clean_text
from layers import ratelimit, sessions
from layers.audit import audit

ROLES = ("applicant", "instructor", "signatory", "partner", "admin")
STAFF_ROLES = ("instructor", "signatory", "partner", "admin")  # created by an admin or the CLI, never by registration
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
MIN_PASSWORD = 10
COMMON_PASSWORDS = Path(__file__).parent / "data" / "common_passwords.txt"
VERIFY_HOURS = 48  # the link and the code of a registration


def hash_password(password: str) -> str:
    """scrypt with a random salt, as "scrypt$salt$hash" (hex)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    """Constant-time check of a password against its stored hash."""
    try:
        _, salt, digest = stored.split("$")
    except ValueError:
        return False
    candidate = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=2**14, r=8, p=1)
    return hmac.compare_digest(candidate.hex(), digest)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash to check when the account does not exist, so that the answer takes as long as for a known one."""
    return hash_password(secrets.token_urlsafe(16))


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The 10,000 most common passwords, lower case (layers/data/common_passwords.txt says where they come from)."""
    lines = COMMON_PASSWORDS.read_text(encoding="utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("# "))


def check_new_password(password: str, email: str) -> None:
    """Refuse a password that is short, among the most common ones, or made from the e-mail address."""
    if len(password or "") < MIN_PASSWORD:
        raise InputError(f"mot de passe trop court : {MIN_PASSWORD} caractères au moins")
    lowered = password.lower()
    if lowered in common_passwords() or lowered.strip() in common_passwords():
        raise InputError("mot de passe trop répandu (il figure parmi les 10 000 plus utilisés) : choisissez-en un "
                         "autre, par exemple une phrase de quelques mots")
    local = email.split("@", 1)[0]
    if email in lowered or (len(local) >= 4 and local in lowered):
        raise InputError("le mot de passe ne doit pas contenir l'adresse électronique")


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _code_hash(email: str, code: str) -> str:
    return hashlib.sha256(f"{email}:{code}".encode()).hexdigest()


def text(value: object, what: str, max_chars: int = 254) -> str:
    """A field typed by a person: a string without NUL, of reasonable length (400 otherwise)."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InputError(f"{what} : du texte est attendu")
    if len(value) > max_chars:
        raise InputError(f"{what} : {max_chars} caractères au plus")
    return clean_text(value, what)  # no NUL character, no lone surrogate


def normalized_email(email: object) -> str:
    """The address as accounts store it (trimmed, lower case)."""
    return text(email, "adresse électronique").strip().lower()


@dataclass(frozen=True)
class Verification:
    """What the registration e-mail carries: a long token for the link, a short code to type by hand."""

    token: str  # 256 random bits: the link
    code: str  # 6 digits, a few guesses allowed (VERIFY_CODE_ATTEMPTS), then void


def create_account(conn: psycopg.Connection, email: str, full_name: str, password: str,
                   role: str = "applicant", verified: bool = False,
                   organisation: str | None = None) -> tuple[int, Verification | None]:
    """A new account; returns (id, what to e-mail for its verification, None when created verified).

    A partner account names its administration (`organisation`: a commune, the land registry, a utility).
    """
    email = normalized_email(email)
    if not EMAIL.fullmatch(email):
        raise InputError("adresse électronique invalide")
    full_name, password = text(full_name, "nom complet", 200), text(password, "mot de passe", 1024)
    if not full_name.strip():
        raise InputError("nom complet obligatoire")
    check_new_password(password, email)
    if role not in ROLES:
        raise InputError(f"rôle inconnu « {role} » ({', '.join(ROLES)})")
    organisation = text(organisation, "organisme", 200).strip() or None
    if role == "partner" and not organisation:
        raise InputError("un compte partenaire doit nommer son organisme (commune, conservation foncière, régie…)")
    check = None if verified else Verification(secrets.token_urlsafe(32), f"{secrets.randbelow(10**6):06d}")
    try:
        with conn.transaction():
            account_id = conn.execute(
                "INSERT INTO accounts (email, full_name, password_hash, role, verify_token_hash, verify_code_hash, "
                "verify_expires_at, verified_at, organisation) VALUES (%s, %s, %s, %s, %s, %s, "
                "CASE WHEN %s THEN now() + make_interval(hours => %s) END, CASE WHEN %s THEN now() END, %s) "
                "RETURNING id",
                (email, full_name.strip(), hash_password(password), role, _token_hash(check.token) if check else None,
                 _code_hash(email, check.code) if check else None, check is not None, VERIFY_HOURS,
                 verified, organisation)).fetchone()[0]
            audit(conn, email, "compte.cree", "account", str(account_id), None, {"role": role, "verifie": verified})
    except psycopg.errors.UniqueViolation:
        raise Conflict("un compte existe déjà pour cette adresse") from None
    return account_id, check


def id_of(conn: psycopg.Connection, email: str) -> int | None:
    """The id of the account with this address, if there is one."""
    row = conn.execute("SELECT id FROM accounts WHERE email = %s", (normalized_email(email),)).fetchone()
    return row[0] if row else None


def exists(conn: psycopg.Connection, email: str) -> bool:
    """Whether an account has this address."""
    return id_of(conn, email) is not None


def limit_registrations(conn: psycopg.Connection, address: str, per_hour: int) -> None:
    """Count a registration from an address; TooManyRequests past `per_hour` in the current hour."""
    if ratelimit.add(conn, "inscription", address, "hour") > per_hour:
        raise TooManyRequests(f"trop d'inscriptions depuis cette adresse ({per_hour} par heure au plus) : "
                              "réessayez dans une heure", retry_after_s=ratelimit.seconds_left(conn, "hour"))


def _mark_verified(conn: psycopg.Connection, account_id: int, email: str, how: str) -> int:
    conn.execute("UPDATE accounts SET verified_at = now(), verify_token_hash = NULL, verify_code_hash = NULL "
                 "WHERE id = %s", (account_id,))
    audit(conn, email, "compte.verifie", "account", str(account_id), None, {"par": how})
    return account_id


def verify_email(conn: psycopg.Connection, token: str) -> int:
    """Mark the account of a verification link's token as verified; returns its id."""
    with conn.transaction():
        row = conn.execute("SELECT id, email FROM accounts WHERE verify_token_hash = %s AND verified_at IS NULL "
                           "AND (verify_expires_at IS NULL OR verify_expires_at > now()) FOR UPDATE",
                           (_token_hash(token or ""),)).fetchone()
        if row is None:
            raise NotFound("lien de vérification inconnu, expiré ou déjà utilisé")
        return _mark_verified(conn, row[0], row[1], "lien")


CODE_REFUSED = ("code de vérification incorrect, expiré ou annulé (après {n} essais) : vérifiez le code reçu "
                "par courriel, ou suivez le lien du même courriel")


def verify_code(conn: psycopg.Connection, email: str, code: str, attempts: int, address: str) -> int:
    """Verify an account by the short code typed by hand; after `attempts` wrong guesses the code is void.

    Every refusal says the same (unknown address, wrong, expired or void code), so the form tells nothing
    about which addresses have an account; guesses are also limited per address across accounts.
    """
    email, code = normalized_email(email), text(code, "code de vérification", 32)
    if ratelimit.add(conn, "code-adresse", address, "hour") > 10 * attempts:
        raise TooManyRequests("trop de codes essayés depuis cette adresse : réessayez dans une heure",
                              retry_after_s=ratelimit.seconds_left(conn, "hour"))
    with conn.transaction():
        row = conn.execute("SELECT id, verify_code_hash, verify_expires_at > now() FROM accounts WHERE email = %s "
                           "AND verified_at IS NULL AND verify_code_hash IS NOT NULL FOR UPDATE", (email,)).fetchone()
        if row and row[2] and hmac.compare_digest(row[1], _code_hash(email, code.strip())):
            return _mark_verified(conn, row[0], email, "code")
        if row:
            conn.execute("UPDATE accounts SET verify_code_failures = verify_code_failures + 1, verify_code_hash = "
                         "CASE WHEN verify_code_failures + 1 >= %s THEN NULL ELSE verify_code_hash END WHERE id = %s",
                         (attempts, row[0]))
    raise InputError(CODE_REFUSED.format(n=attempts))


def authenticate(conn: psycopg.Connection, email: str, password: str) -> dict:
    """The account for these credentials (verified only), or Unauthorized.

    An unknown address costs the same scrypt as a known one (checked against a dummy hash), so the time of
    the answer does not tell whether an account exists.
    """
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute("SELECT id, email, full_name, role, password_hash, verified_at, disabled_at FROM accounts "
                          "WHERE email = %s", (normalized_email(email),)).fetchone()
    matches = check_password(text(password, "mot de passe", 1024), row["password_hash"] if row else _dummy_hash())
    if row is None or not matches:
        raise Unauthorized("adresse ou mot de passe incorrect")
    if row["verified_at"] is None:
        raise Forbidden("adresse électronique non vérifiée : suivez le lien reçu par courriel")
    if row["disabled_at"] is not None:
        raise Forbidden("compte désactivé : adressez-vous à l'administrateur de l'agence urbaine")
    return {k: row[k] for k in ("id", "email", "full_name", "role")}


@dataclass(frozen=True)
class SignInLimits:
    """Sign-in attempts allowed per hour, per account (the address typed) and per client address."""

    per_account_hour: int = 10
    per_address_hour: int = 30
    session_hours: float = 8.0


def sign_in(conn: psycopg.Connection, email: str, password: str, address: str, limits: SignInLimits) -> tuple[dict, str]:
    """Check the credentials within the limits and open a session: (account, session id for the cookie).

    Attempts are counted before the password is checked (so concurrent guesses cannot pass the limit), for
    unknown addresses as for known ones. Successes and failures go to the audit trail. On a refusal, the
    caller commits what was written (counts, audit line) before answering.
    """
    email, password = normalized_email(email), text(password, "mot de passe", 1024)
    over_account = ratelimit.add(conn, "connexion-compte", email, "hour") > limits.per_account_hour
    over_address = ratelimit.add(conn, "connexion-adresse", address, "hour") > limits.per_address_hour
    if over_account or over_address:
        raise TooManyRequests("trop d'essais de connexion " + ("pour ce compte" if over_account else
                              "depuis cette adresse") + " : réessayez dans une heure",
                              retry_after_s=ratelimit.seconds_left(conn, "hour"))
    try:
        account = authenticate(conn, email, password)
    except (Unauthorized, Forbidden) as exc:
        known = conn.execute("SELECT id FROM accounts WHERE email = %s", (email,)).fetchone()
        audit(conn, email, "session.echec", "account", str(known[0]) if known else "", None,
              {"adresse": address, "motif": exc.code})
        raise
    session_id = sessions.start(conn, account["id"], limits.session_hours)
    audit(conn, account["email"], "session.ouverte", "account", str(account["id"]), None, {"adresse": address})
    return account, session_id


def sign_out(conn: psycopg.Connection, session_id: str, address: str) -> bool:
    """End a session (audited); False when it was already ended or unknown."""
    ended = sessions.end(conn, session_id)
    if ended is None:
        return False
    audit(conn, ended["email"], "session.fermee", "account", str(ended["id"]), None, {"adresse": address})
    return bool(ended["live"])


# ------------------------------------------------------------------ forgotten password (issue 14)
RESET_HOURS = 1  # a reset link is valid one hour, once
RESET_PER_ACCOUNT_HOUR = 3  # links sent to one address per hour at most (no mail bombing through the form)
RESET_UNKNOWN = ("lien de réinitialisation inconnu, expiré (il vaut une heure) ou déjà utilisé : demandez-en un "
                 "nouveau depuis « Mot de passe oublié »")


def start_reset(conn: psycopg.Connection, email: str, address: str, per_address_hour: int) -> tuple[str, str] | None:
    """A password-reset link's token for this address: (normalised e-mail, token), or None.

    None when no active, verified account has this address, or when it already had its links for the hour: the
    caller says the same in every case (the form tells nobody which addresses have an account). Only the token's
    hash is stored, valid `RESET_HOURS`; a new request replaces the previous link. Requests are limited per client
    address too (TooManyRequests: that says nothing about the account).
    """
    email = normalized_email(email)
    if ratelimit.add(conn, "reinitialisation-adresse", address, "hour") > per_address_hour:
        raise TooManyRequests("trop de demandes de réinitialisation depuis cette adresse : réessayez dans une heure",
                              retry_after_s=ratelimit.seconds_left(conn, "hour"))
    if ratelimit.add(conn, "reinitialisation-compte", email, "hour") > RESET_PER_ACCOUNT_HOUR:
        return None
    token = secrets.token_urlsafe(32)
    row = conn.execute("UPDATE accounts SET reset_token_hash = %s, reset_expires_at = now() + make_interval(hours => %s) "
                       "WHERE email = %s AND verified_at IS NOT NULL AND disabled_at IS NULL RETURNING id",
                       (_token_hash(token), RESET_HOURS, email)).fetchone()
    if row is None:
        return None
    audit(conn, email, "compte.reinitialisation_demandee", "account", str(row[0]), None, {"adresse": address})
    return email, token


def reset_password_valid(conn: psycopg.Connection, token: str) -> bool:
    """Whether a reset link's token is known, unused and not expired (the form is shown only then)."""
    return conn.execute("SELECT 1 FROM accounts WHERE reset_token_hash = %s AND reset_expires_at > now() "
                        "AND disabled_at IS NULL", (_token_hash(token or ""),)).fetchone() is not None


def reset_password(conn: psycopg.Connection, token: str, password: str, address: str) -> str:
    """Set a new password with a reset link's token (once): every session of the account ends. Returns its e-mail.

    NotFound for an unknown, expired or used token; InputError for a weak password (the token stays valid then).
    """
    password = text(password, "mot de passe", 1024)
    with conn.transaction():
        row = conn.execute("SELECT id, email FROM accounts WHERE reset_token_hash = %s AND reset_expires_at > now() "
                           "AND disabled_at IS NULL FOR UPDATE", (_token_hash(token or ""),)).fetchone()
        if row is None:
            raise NotFound(RESET_UNKNOWN)
        account_id, email = row
        check_new_password(password, email)
        conn.execute("UPDATE accounts SET password_hash = %s, reset_token_hash = NULL, reset_expires_at = NULL "
                     "WHERE id = %s", (hash_password(password), account_id))
        ended = sessions.end_all(conn, account_id)
        audit(conn, email, "compte.mot_de_passe_reinitialise", "account", str(account_id), None,
              {"adresse": address, "sessions_fermees": ended})
    return email
