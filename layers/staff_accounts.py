"""Accounts as the admin's page manages them: staff and partner accounts created verified, roles changed,
accounts switched off and on (ending their sessions), every change audited with the admin who made it.

An admin cannot switch off or demote their own account (the agency would risk having no admin left through a
slip of the hand); another admin can.
"""

from __future__ import annotations

import psycopg
from psycopg.rows import dict_row

from gis.errors import Forbidden, InputError, NotFound
from layers import sessions
from layers.accounts import ROLES, STAFF_ROLES, create_account, text
from layers.audit import audit

LIST_LIMIT = 500


def list_accounts(conn: psycopg.Connection, email_part: str = "", with_applicants: bool = False) -> list[dict]:
    """Accounts by role then address: staff and partners, applicants too when asked (or when searching)."""
    wanted = text(email_part, "adresse recherchée", 254).strip().lower()
    roles = list(ROLES if with_applicants or wanted else STAFF_ROLES)
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT id, email, full_name, role, organisation, verified_at, disabled_at, created_at FROM accounts "
            "WHERE role = ANY(%s) AND (%s = '' OR strpos(email, %s) > 0) "
            "ORDER BY array_position(%s, role), email LIMIT %s",
            (roles, wanted, wanted, list(ROLES), LIST_LIMIT)).fetchall()


def create_staff(conn: psycopg.Connection, admin: dict, email: str, full_name: str, role: str, password: str,
                 organisation: str | None = None) -> int:
    """A verified staff or partner account (a partner names its organisation), audited with its creator."""
    if role not in STAFF_ROLES:
        raise InputError(f"rôle « {role} » : un administrateur crée des comptes {', '.join(STAFF_ROLES)} (les "
                         "demandeurs s'inscrivent eux-mêmes)")
    account_id, _ = create_account(conn, email, full_name, password, role=role, verified=True,
                                   organisation=organisation if role == "partner" else None)
    audit(conn, admin["email"], "compte.cree_par_admin", "account", str(account_id), None,
          {"role": role, "organisation": organisation if role == "partner" else None})
    return account_id


def _account(conn: psycopg.Connection, account_id: int) -> dict:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute("SELECT id, email, role, organisation, disabled_at FROM accounts WHERE id = %s FOR UPDATE",
                          (account_id,)).fetchone()
    if row is None:
        raise NotFound(f"compte inconnu : n° {account_id}")
    return row


def change_role(conn: psycopg.Connection, admin: dict, account_id: int, role: str,
                organisation: str | None = None) -> None:
    """Give an account another role (a partner keeps or gets an organisation); never one's own."""
    if role not in ROLES:
        raise InputError(f"rôle inconnu « {role} » ({', '.join(ROLES)})")
    organisation = text(organisation, "organisme", 200).strip() or None
    account = _account(conn, account_id)
    if account["id"] == admin["id"] and role != account["role"]:
        raise Forbidden("vous ne pouvez pas changer votre propre rôle : demandez-le à un autre administrateur")
    kept = organisation or account["organisation"]
    if role == "partner" and not kept:
        raise InputError("un compte partenaire doit nommer son organisme (commune, conservation foncière, régie…)")
    new_organisation = kept if role == "partner" else account["organisation"]
    if (role, new_organisation) == (account["role"], account["organisation"]):
        raise InputError(f"le compte {account['email']} a déjà ce rôle : rien n'est changé")
    conn.execute("UPDATE accounts SET role = %s, organisation = %s WHERE id = %s", (role, new_organisation, account_id))
    audit(conn, admin["email"], "compte.role", "account", str(account_id),
          {"role": account["role"], "organisation": account["organisation"]},
          {"role": role, "organisation": new_organisation})


def set_enabled(conn: psycopg.Connection, admin: dict, account_id: int, enabled: bool) -> str:
    """Switch an account on or off (off: its sessions end at once); never one's own. Returns its address."""
    account = _account(conn, account_id)
    if account["id"] == admin["id"] and not enabled:
        raise Forbidden("vous ne pouvez pas désactiver votre propre compte : demandez-le à un autre administrateur")
    if (account["disabled_at"] is None) == enabled:
        state = "actif" if enabled else "déjà désactivé"
        raise InputError(f"le compte {account['email']} est {state} : rien n'est changé")
    conn.execute("UPDATE accounts SET disabled_at = CASE WHEN %s THEN NULL ELSE now() END WHERE id = %s",
                 (enabled, account_id))
    ended = 0
    if not enabled:
        ended = sessions.end_all(conn, account_id)
    audit(conn, admin["email"], "compte.reactive" if enabled else "compte.desactive", "account", str(account_id),
          {"actif": not enabled}, {"actif": enabled, **({} if enabled else {"sessions_fermees": ended})})
    return account["email"]
