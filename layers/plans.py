"""Plan versions: create, look up, change status (with history), list with the status on a date."""

from __future__ import annotations

from datetime import date

import psycopg
from psycopg.types.json import Jsonb

from gis.errors import Conflict, InputError, NotFound

STATUSES = {
    "etude": "en étude",
    "enquete_publique": "enquête publique",
    "homologue": "homologué",
    "remplace": "remplacé",
    "abroge": "abrogé",
    "annule": "annulé",
}
KINDS = {"PA": "plan d'aménagement", "SDAU": "schéma directeur", "PS": "plan de secteur", "PZ": "plan de zonage",
         "PDAR": "plan de développement d'agglomération rurale", "autre": "autre document"}
ENDING = ("remplace", "abroge", "annule")


def _day(value: object, what: str) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise InputError(f"{what} : date invalide « {value} » (format AAAA-MM-JJ)") from None


def get_plan(conn: psycopg.Connection, code: str) -> dict:
    """The plan version with this code, or NotFound listing a few existing codes."""
    row = conn.execute("SELECT id, code, kind, name, status, status_date, valid_from, valid_to FROM plans "
                       "WHERE code = %s", (code,)).fetchone()
    if row is None:
        codes = [r[0] for r in conn.execute("SELECT code FROM plans ORDER BY code LIMIT 20")]
        raise NotFound(f"plan inconnu : « {code} »" + (f" (plans : {', '.join(codes)})" if codes else " (aucun plan)"))
    keys = ("id", "code", "kind", "name", "status", "status_date", "valid_from", "valid_to")
    return dict(zip(keys, row, strict=True))


def create_plan(conn: psycopg.Connection, spec: dict, import_id: int | None = None) -> int:
    """Insert a new plan version (never over an existing one) with its status history; return its id.

    `spec` keys: code, kind, name, status, status_date, approval_act, approval_date, valid_from, valid_to,
    replaces (code of the plan it replaces), commune_codes, notes, statuses ([{status, date, act, note}]).
    """
    unknown = set(spec) - {"code", "kind", "name", "status", "status_date", "approval_act", "approval_date",
                           "valid_from", "valid_to", "replaces", "commune_codes", "notes", "statuses"}
    if unknown:
        raise InputError(f"plan : champ(s) inconnu(s) {sorted(unknown)}")
    for key in ("code", "kind", "name", "status", "status_date"):
        if not spec.get(key):
            raise InputError(f"plan : « {key} » est obligatoire (code, kind, name, status, status_date)")
    if spec["kind"] not in KINDS:
        raise InputError(f"plan : nature « {spec['kind']} » inconnue ({', '.join(KINDS)})")
    if spec["status"] not in STATUSES:
        raise InputError(f"plan : statut « {spec['status']} » inconnu ({', '.join(STATUSES)})")
    if conn.execute("SELECT 1 FROM plans WHERE code = %s", (spec["code"],)).fetchone():
        raise Conflict(f"le plan « {spec['code']} » existe déjà : une nouvelle version prend un nouveau code")
    replaces_id = get_plan(conn, spec["replaces"])["id"] if spec.get("replaces") else None
    status_date = _day(spec["status_date"], "status_date")
    valid_from = _day(spec.get("valid_from"), "valid_from")
    if valid_from is None and spec["status"] == "homologue":
        valid_from = status_date
    plan_id = conn.execute(
        """INSERT INTO plans (code, kind, name, status, status_date, approval_act, approval_date, valid_from,
                              valid_to, replaces_id, commune_codes, notes, import_id)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
        (spec["code"], spec["kind"], spec["name"], spec["status"], status_date, spec.get("approval_act"),
         _day(spec.get("approval_date"), "approval_date"), valid_from, _day(spec.get("valid_to"), "valid_to"),
         replaces_id, list(spec.get("commune_codes", [])), spec.get("notes"), import_id),
    ).fetchone()[0]
    history = list(spec.get("statuses") or [])
    if not any(h.get("status") == spec["status"] for h in history):
        history.append({"status": spec["status"], "date": status_date, "act": spec.get("approval_act")})
    for item in history:
        if item.get("status") not in STATUSES:
            raise InputError(f"plan : statut « {item.get('status')} » inconnu dans l'historique")
        conn.execute("INSERT INTO plan_statuses (plan_id, status, effective_date, act, note) VALUES (%s,%s,%s,%s,%s)",
                     (plan_id, item["status"], _day(item.get("date"), "statuses.date"), item.get("act"),
                      item.get("note")))
    if spec.get("commune_codes"):
        conn.execute("""UPDATE plans SET perimeter = (SELECT ST_Multi(ST_Union(geom)) FROM communes
                        WHERE code = ANY(%s)) WHERE id = %s""", (list(spec["commune_codes"]), plan_id))
    return plan_id


def ensure_perimeter(conn: psycopg.Connection, plan_id: int, table: str) -> None:
    """Give a plan without a recorded perimeter the outline of its features (union of its polygons)."""
    from psycopg import sql

    conn.execute(sql.SQL(
        "UPDATE plans SET perimeter = (SELECT ST_Multi(ST_Union(geom)) FROM {t} WHERE plan_id = %s "
        "AND ST_Dimension(geom) = 2) WHERE id = %s AND perimeter IS NULL").format(t=sql.Identifier(table)),
        (plan_id, plan_id))


def set_status(conn: psycopg.Connection, code: str, status: str, day: date, act: str | None = None) -> None:
    """Record a new status; homologation starts validity and ends the plan it replaces."""
    if status not in STATUSES:
        raise InputError(f"statut « {status} » inconnu ({', '.join(STATUSES)})")
    plan = get_plan(conn, code)
    if plan["status_date"] and day < plan["status_date"]:
        raise InputError(f"le statut actuel date du {plan['status_date']} : un nouveau statut ne peut être antérieur")
    conn.execute("INSERT INTO plan_statuses (plan_id, status, effective_date, act) VALUES (%s, %s, %s, %s)",
                 (plan["id"], status, day, act))
    conn.execute("UPDATE plans SET status = %s, status_date = %s WHERE id = %s", (status, day, plan["id"]))
    if status == "homologue":
        conn.execute("UPDATE plans SET valid_from = %s, approval_act = COALESCE(%s, approval_act), "
                     "approval_date = %s WHERE id = %s", (day, act, day, plan["id"]))
        replaced = conn.execute("SELECT replaces_id FROM plans WHERE id = %s", (plan["id"],)).fetchone()[0]
        if replaced:
            conn.execute("UPDATE plans SET status = 'remplace', status_date = %s, valid_to = %s WHERE id = %s",
                         (day, day, replaced))
            conn.execute("INSERT INTO plan_statuses (plan_id, status, effective_date, act, note) "
                         "VALUES (%s, 'remplace', %s, %s, %s)", (replaced, day, act, f"remplacé par {code}"))
    elif status in ENDING:
        conn.execute("UPDATE plans SET valid_to = %s WHERE id = %s", (day, plan["id"]))


def list_plans(conn: psycopg.Connection, on: date) -> list[dict]:
    """Every plan version with its status on date `on` and the date that status took effect (`status_since`)."""
    rows = conn.execute("""SELECT code, kind, name, status, plan_status_on(id, %(on)s), valid_from, valid_to,
                                  approval_act, (SELECT max(effective_date) FROM plan_statuses s
                                                 WHERE s.plan_id = plans.id AND s.effective_date <= %(on)s)
                           FROM plans ORDER BY kind, code""", {"on": on}).fetchall()
    keys = ("code", "kind", "name", "status", "status_on", "valid_from", "valid_to", "approval_act", "status_since")
    return [dict(zip(keys, r, strict=True)) for r in rows]


def record_meta(conn: psycopg.Connection, key: str, value: object) -> None:
    """Store a JSON value in the meta table."""
    conn.execute("INSERT INTO meta (key, value, updated_at) VALUES (%s, %s, now()) ON CONFLICT (key) "
                 "DO UPDATE SET value = EXCLUDED.value, updated_at = now()", (key, Jsonb(value)))
