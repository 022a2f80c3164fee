"""Accounts: scrypt password hashes, e-mail verification tokens (only their hash is stored), roles."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

import psycopg
from psycopg.rows import dict_row

from gis.errors import Conflict, Forbidden, InputError, NotFound, Unauthorized
from layers.audit import audit

ROLES = ("applicant", "instructor", "signatory", "admin")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")


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


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_account(conn: psycopg.Connection, email: str, full_name: str, password: str,
                   role: str = "applicant", verified: bool = False) -> tuple[int, str | None]:
    """A new account; returns (id, verification token to e-mail, None when created verified)."""
    email = (email or "").strip().lower()
    if not EMAIL.fullmatch(email):
        raise InputError("adresse électronique invalide")
    if not full_name or not full_name.strip():
        raise InputError("nom complet obligatoire")
    if len(password or "") < 10:
        raise InputError("mot de passe trop court : 10 caractères au moins")
    if role not in ROLES:
        raise InputError(f"rôle inconnu « {role} » ({', '.join(ROLES)})")
    token = None if verified else secrets.token_urlsafe(24)
    try:
        with conn.transaction():
            account_id = conn.execute(
                "INSERT INTO accounts (email, full_name, password_hash, role, verify_token_hash, verified_at) "
                "VALUES (%s, %s, %s, %s, %s, CASE WHEN %s THEN now() END) RETURNING id",
                (email, full_name.strip(), hash_password(password), role, _token_hash(token) if token else None,
                 verified)).fetchone()[0]
            audit(conn, email, "compte.cree", "account", str(account_id), None, {"role": role, "verifie": verified})
    except psycopg.errors.UniqueViolation:
        raise Conflict("un compte existe déjà pour cette adresse") from None
    return account_id, token


def verify_email(conn: psycopg.Connection, token: str) -> int:
    """Mark the account of a verification token as verified; returns its id."""
    with conn.transaction():
        row = conn.execute("UPDATE accounts SET verified_at = now(), verify_token_hash = NULL "
                           "WHERE verify_token_hash = %s RETURNING id, email", (_token_hash(token or ""),)).fetchone()
        if row is None:
            raise NotFound("lien de vérification inconnu ou déjà utilisé")
        audit(conn, row[1], "compte.verifie", "account", str(row[0]), None, None)
    return row[0]


def authenticate(conn: psycopg.Connection, email: str, password: str) -> dict:
    """The account for these credentials (verified only), or Unauthorized."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute("SELECT id, email, full_name, role, password_hash, verified_at FROM accounts "
                          "WHERE email = %s", ((email or "").strip().lower(),)).fetchone()
    if row is None or not check_password(password or "", row["password_hash"]):
        raise Unauthorized("adresse ou mot de passe incorrect")
    if row["verified_at"] is None:
        raise Forbidden("adresse électronique non vérifiée : suivez le lien reçu par courriel")
    return {k: row[k] for k in ("id", "email", "full_name", "role")}
