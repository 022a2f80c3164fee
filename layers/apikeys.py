"""Partner API keys: created and revoked with the CLI (which commits), checked per request (only hashes are stored)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import psycopg

from gis.errors import Conflict, InputError, NotFound
from layers.db import primary


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(conn: psycopg.Connection, name: str, organisation: str | None = None) -> str:
    """Create a key for a partner; the clear key is returned once and never stored.

    `organisation`: the partner organisation the key speaks for (it then also reads that organisation's own
    « owner » partner layers and datasets); None for a key of no organisation (public and « partners » ones only).
    """
    key = "ubk_" + secrets.token_urlsafe(32)
    organisation = (organisation or "").strip() or None
    if organisation is not None and len(organisation) > 200:
        raise InputError("organisme : 200 caractères au plus")
    try:
        with conn.transaction():  # a savepoint: the caller's transaction stays usable after a refusal
            conn.execute("INSERT INTO api_keys (name, key_hash, organisation) VALUES (%s, %s, %s)",
                         (name, _hash(key), organisation))
    except psycopg.errors.UniqueViolation:
        raise Conflict(f"une clé existe déjà pour « {name} » : révoquez-la d'abord") from None
    return key


def revoke_key(conn: psycopg.Connection, name: str) -> None:
    """Revoke a partner's key."""
    row = conn.execute("UPDATE api_keys SET revoked_at = now(), name = name || ' (révoquée ' || id || ')' "
                       "WHERE name = %s AND revoked_at IS NULL RETURNING id", (name,)).fetchone()
    if row is None:
        raise NotFound(f"aucune clé active pour « {name} »")


def list_keys(conn: psycopg.Connection) -> list[tuple]:
    """(name, created, revoked) of every key."""
    return conn.execute("SELECT name, created_at, revoked_at FROM api_keys ORDER BY id").fetchall()


@dataclass(frozen=True)
class KeyHolder:
    """Who a valid key speaks for: its name and its partner organisation (None: no organisation)."""

    name: str
    organisation: str | None


def key_holder(conn: psycopg.Connection, key: str) -> KeyHolder | None:
    """The holder of a valid key, None for an unknown or revoked one."""
    if len(key) > 200:
        return None
    # on the primary even during a public read from a replica: a key revoked is refused at once
    row = primary(conn).execute("SELECT name, organisation FROM api_keys WHERE key_hash = %s AND revoked_at IS NULL",
                                (_hash(key),), prepare=True).fetchone()
    return KeyHolder(row[0], row[1]) if row else None


def check_key(conn: psycopg.Connection, key: str) -> bool:
    """Whether a key is valid (unknown or revoked keys are simply public callers)."""
    return key_holder(conn, key) is not None


def key_organisation(conn: psycopg.Connection, key: str) -> str | None:
    """The partner organisation of a valid key (None for a key of no organisation, unknown or revoked)."""
    holder = key_holder(conn, key)
    return holder.organisation if holder else None
