"""Plan versions: create, look up, change status (with history), list with the status on a date.

The lifecycle, in one place:
- a plan version **applies** on day D when its status on D is *homologué* and D lies in its validity range
  [valid_from, valid_to): the SQL function ``plan_in_force(plan, day)`` (migration 0011) is the only test
  of that, used by the instruction, the bulk instruction, the OGC API and the tiles;
- **homologation** records the approval act and its date (``approval_date``); **entry into force**
  (``valid_from``, e.g. publication in the Bulletin officiel) is that date unless given later;
- homologating a version that ``replaces`` another ends the other one the day the new one enters into
  force (status *remplacé*, ``valid_to``), whether the status is set by ``urbasig plan-status`` or the
  version is imported already homologated: both go through :func:`_homologate`.
"""

from __future__ import annotations

from datetime import date

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from gis.errors import Conflict, InputError, NotFound
from layers.audit import audit
from layers.plan_terms import ENDING_STATUSES, PLAN_KINDS, PLAN_STATUSES

SPEC_KEYS = ("code", "kind", "name", "status", "status_date", "approval_act", "approval_date", "valid_from",
             "valid_to", "replaces", "commune_codes", "notes", "statuses")
_PLAN_COLUMNS = ("id", "code", "kind", "name", "status", "status_date", "approval_act", "approval_date",
                 "valid_from", "valid_to", "replaces_id")


def _day(value: object, what: str) -> date | None:
    if value is None or isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise InputError(f"plan : « {what} » doit être une date AAAA-MM-JJ, reçu {value!r}")
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InputError(f"plan : « {what} » : date invalide « {value} » (format AAAA-MM-JJ)") from None


def get_plan(conn: psycopg.Connection, code: str) -> dict:
    """The plan version with this code, or NotFound listing a few existing codes."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(f"SELECT {', '.join(_PLAN_COLUMNS)} FROM plans WHERE code = %s", (code,)).fetchone()
    if row is None:
        codes = [r[0] for r in conn.execute("SELECT code FROM plans ORDER BY code LIMIT 20")]
        raise NotFound(f"plan inconnu : « {code} »" + (f" (plans : {', '.join(codes)})" if codes else " (aucun plan)"))
    return row


def plan_exists(conn: psycopg.Connection, code: str) -> bool:
    """Whether a plan version with this code exists."""
    return conn.execute("SELECT 1 FROM plans WHERE code = %s", (code,)).fetchone() is not None


def _check_required_and_texts(spec: dict) -> None:
    unknown = sorted(set(spec) - set(SPEC_KEYS))
    if unknown:
        raise InputError(f"plan : clé(s) inconnue(s) {unknown} (clés possibles : {', '.join(SPEC_KEYS)})")
    for key in ("code", "kind", "name", "status", "status_date"):
        if spec.get(key) in (None, ""):
            raise InputError(f"plan : « {key} » est obligatoire pour créer une version (code, kind, name, status, "
                             "status_date) ; pour ajouter des couches à une version existante, ne donnez que « code »")
    for key in ("code", "kind", "name", "status", "approval_act", "replaces", "notes"):
        if spec.get(key) is not None and not isinstance(spec[key], str):
            raise InputError(f"plan : « {key} » doit être un texte, reçu {spec[key]!r}")
    if spec["kind"] not in PLAN_KINDS:
        raise InputError(f"plan : nature « {spec['kind']} » inconnue (natures : {', '.join(PLAN_KINDS)})")
    if spec["status"] not in PLAN_STATUSES:
        raise InputError(f"plan : statut « {spec['status']} » inconnu (statuts : {', '.join(PLAN_STATUSES)})")


def _check_history(history: object) -> None:
    if not isinstance(history, list) or not all(isinstance(h, dict) for h in history):
        raise InputError("plan : « statuses » doit être une liste de tables {status, date, act, note}")
    for item in history:
        if item.get("status") not in PLAN_STATUSES:
            raise InputError(f"plan : statut « {item.get('status')} » inconnu dans l'historique "
                             f"(statuts : {', '.join(PLAN_STATUSES)})")
        if _day(item.get("date"), "statuses.date") is None:
            raise InputError(f"plan : le statut « {item['status']} » de l'historique n'a pas de date")


def check_spec(spec: dict) -> dict:
    """Validate a new plan version's description (the `[plan]` section of a mapping); return it with dates parsed.

    Every refusal names the key, the value and what is allowed, before anything is written.
    """
    _check_required_and_texts(spec)
    communes = spec.get("commune_codes") or []
    if not isinstance(communes, list) or not all(isinstance(c, str) for c in communes):
        raise InputError("plan : « commune_codes » doit être une liste de codes, par ex. [\"ANFA\"]")
    out = {**spec, "commune_codes": communes}
    for key in ("status_date", "approval_date", "valid_from", "valid_to"):
        out[key] = _day(spec.get(key), key)
    _check_history(spec.get("statuses") or [])
    if out["status"] == "homologue":
        if out["approval_date"] and out["approval_date"] != out["status_date"]:
            raise InputError(f"plan {out['code']} : pour une version homologuée, status_date est la date de l'acte "
                             f"d'approbation : approval_date ({out['approval_date']}) doit lui être égale ou être omise "
                             "(une entrée en vigueur plus tardive se donne dans valid_from)")
        out["approval_date"] = out["status_date"]
        out["valid_from"] = out["valid_from"] or out["approval_date"]
    elif out["status"] in ENDING_STATUSES:  # a past version loaded with its history: when did it apply?
        homologated = [_day(h.get("date"), "statuses.date") for h in spec.get("statuses") or []
                       if h.get("status") == "homologue"]
        out["approval_date"] = out["approval_date"] or (min(homologated) if homologated else None)
        out["valid_from"] = out["valid_from"] or out["approval_date"]
        if out["valid_from"]:
            out["valid_to"] = out["valid_to"] or out["status_date"]
    _check_dates(out["code"], out["approval_date"], out["valid_from"], out["valid_to"])
    return out


def _check_dates(code: str, approval: date | None, valid_from: date | None, valid_to: date | None) -> None:
    if approval and valid_from and valid_from < approval:
        raise InputError(f"plan {code} : l'entrée en vigueur (valid_from {valid_from}) ne peut précéder "
                         f"l'homologation ({approval})")
    if valid_from and valid_to and valid_to <= valid_from:
        raise InputError(f"plan {code} : la fin de validité (valid_to {valid_to}) doit suivre l'entrée en vigueur "
                         f"(valid_from {valid_from})")


def create_plan(conn: psycopg.Connection, spec: dict, import_id: int | None = None) -> int:
    """Insert a new plan version (never over an existing one) with its status history; return its id.

    `spec` keys: see SPEC_KEYS (README, « Cycle de vie des plans »). A version created *homologué* that
    `replaces` another ends that one exactly as `set_status(..., "homologue")` would.
    """
    spec = check_spec(spec)
    if plan_exists(conn, spec["code"]):
        raise Conflict(f"le plan « {spec['code']} » existe déjà : une nouvelle version prend un nouveau code ; "
                       "pour ajouter des couches à cette version, ne donnez que son code dans [plan] (ou --plan)")
    replaced = get_plan(conn, spec["replaces"]) if spec.get("replaces") else None
    plan_id = conn.execute(
        """INSERT INTO plans (code, kind, name, status, status_date, approval_act, approval_date, valid_from,
                              valid_to, replaces_id, commune_codes, notes, import_id)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
        (spec["code"], spec["kind"], spec["name"], spec["status"], spec["status_date"], spec.get("approval_act"),
         spec["approval_date"], spec["valid_from"], spec["valid_to"], replaced["id"] if replaced else None,
         spec["commune_codes"], spec.get("notes"), import_id),
    ).fetchone()[0]
    history = list(spec.get("statuses") or [])
    if not any(h.get("status") == spec["status"] for h in history):
        history.append({"status": spec["status"], "date": spec["status_date"], "act": spec.get("approval_act")})
    for item in history:
        conn.execute("INSERT INTO plan_statuses (plan_id, status, effective_date, act, note) VALUES (%s,%s,%s,%s,%s)",
                     (plan_id, item["status"], _day(item.get("date"), "statuses.date"), item.get("act"),
                      item.get("note")))
    if spec["commune_codes"]:
        _check_communes(conn, spec["commune_codes"])
        conn.execute("""UPDATE plans SET perimeter = (SELECT ST_Multi(ST_Union(geom)) FROM communes
                        WHERE code = ANY(%s)) WHERE id = %s""", (spec["commune_codes"], plan_id))
    if spec["status"] == "homologue" and replaced:
        _end_replaced(conn, replaced, spec["code"], spec["valid_from"], spec.get("approval_act"))
    return plan_id


def _check_communes(conn: psycopg.Connection, codes: list[str]) -> None:
    known = {r[0] for r in conn.execute("SELECT code FROM communes WHERE code = ANY(%s)", (codes,))}
    missing = [c for c in codes if c not in known]
    if missing:
        raise InputError(f"plan : commune(s) inconnue(s) dans « commune_codes » : {', '.join(missing)}")


def ensure_perimeter(conn: psycopg.Connection, plan_id: int, table: str) -> None:
    """Give a plan without a recorded perimeter the outline of its features (union of its polygons)."""
    conn.execute(sql.SQL(
        "UPDATE plans SET perimeter = (SELECT ST_Multi(ST_Union(geom)) FROM {t} WHERE plan_id = %s "
        "AND ST_Dimension(geom) = 2) WHERE id = %s AND perimeter IS NULL").format(t=sql.Identifier(table)),
        (plan_id, plan_id))


def set_status(conn: psycopg.Connection, code: str, status: str, day: date, act: str | None = None,
               in_force_from: date | None = None) -> None:
    """Record a new status of a plan version on `day`.

    Homologation records the act and its date and starts validity on `in_force_from` (default: `day`),
    ending the version it replaces that same day; an ending status (remplacé, abrogé, annulé) ends
    validity on `day`.
    """
    if status not in PLAN_STATUSES:
        raise InputError(f"statut « {status} » inconnu (statuts : {', '.join(PLAN_STATUSES)})")
    if in_force_from is not None and status != "homologue":
        raise InputError("une date d'entrée en vigueur ne se donne qu'avec l'homologation")
    plan = get_plan(conn, code)
    if plan["status_date"] and day < plan["status_date"]:
        raise InputError(f"le statut actuel date du {plan['status_date']} : un nouveau statut ne peut être antérieur")
    if status == "homologue":
        _homologate(conn, plan, day, in_force_from or day, act)
    elif status in ENDING_STATUSES:
        if plan["valid_from"] is not None and day <= plan["valid_from"]:
            # ended before it ever applied (e.g. annulled between approval and entry into force): it never
            # applies, and the version it was to replace goes on
            _unschedule_replacement(conn, plan)
            conn.execute("UPDATE plans SET valid_from = NULL, valid_to = %s WHERE id = %s", (day, plan["id"]))
        else:
            conn.execute("UPDATE plans SET valid_to = %s WHERE id = %s", (day, plan["id"]))
    _record_status(conn, plan["id"], status, day, act)


def _record_status(conn: psycopg.Connection, plan_id: int, status: str, day: date, act: str | None,
                   note: str | None = None) -> None:
    """Add a status to the history (the same status on the same day again only completes its act and note)."""
    conn.execute("INSERT INTO plan_statuses (plan_id, status, effective_date, act, note) VALUES (%s, %s, %s, %s, %s) "
                 "ON CONFLICT (plan_id, effective_date, status) DO UPDATE SET "
                 "act = COALESCE(EXCLUDED.act, plan_statuses.act), note = COALESCE(EXCLUDED.note, plan_statuses.note)",
                 (plan_id, status, day, act, note))
    conn.execute("UPDATE plans SET status = %s, status_date = %s WHERE id = %s AND (status_date IS NULL "
                 "OR status_date <= %s)", (status, day, plan_id, day))


def _homologate(conn: psycopg.Connection, plan: dict, approved_on: date, in_force_from: date,
                act: str | None) -> None:
    """Approval on `approved_on`, in force from `in_force_from`; the replaced version ends that day.

    Homologating again (to correct the date of entry into force) moves the end of the replaced version too.
    """
    _check_dates(plan["code"], approved_on, in_force_from, plan["valid_to"])
    _unschedule_replacement(conn, plan)
    conn.execute("UPDATE plans SET valid_from = %s, approval_act = COALESCE(%s, approval_act), approval_date = %s "
                 "WHERE id = %s", (in_force_from, act, approved_on, plan["id"]))
    if plan["replaces_id"]:
        replaced = conn.execute("SELECT code FROM plans WHERE id = %s", (plan["replaces_id"],)).fetchone()[0]
        _end_replaced(conn, get_plan(conn, replaced), plan["code"], in_force_from, act)


def _unschedule_replacement(conn: psycopg.Connection, plan: dict) -> None:
    """Take back the end this version gave the one(s) it replaces (it will not enter into force that day)."""
    if plan["valid_from"] is None or plan["replaces_id"] is None:
        return
    note = f"remplacé par {plan['code']}"
    ended = conn.execute("DELETE FROM plan_statuses WHERE status = 'remplace' AND effective_date = %s AND note = %s "
                         "RETURNING plan_id", (plan["valid_from"], note)).fetchall()
    for (plan_id,) in ended:
        conn.execute("""UPDATE plans p SET valid_to = NULL, status = s.status, status_date = s.effective_date
                        FROM (SELECT status, effective_date FROM plan_statuses WHERE plan_id = %(id)s
                              ORDER BY effective_date DESC LIMIT 1) s
                        WHERE p.id = %(id)s AND p.valid_to = %(day)s""", {"id": plan_id, "day": plan["valid_from"]})


def _end_replaced(conn: psycopg.Connection, replaced: dict, by_code: str, day: date, act: str | None) -> None:
    """End the version `replaced` on `day` (the day its successor enters into force).

    A replaced version that never came into force (a draft) passes the replacement on to the one it was to
    replace, so that the version really in force is ended too.
    """
    if replaced["valid_from"] is None and replaced["replaces_id"] is not None:
        earlier = conn.execute("SELECT code FROM plans WHERE id = %s", (replaced["replaces_id"],)).fetchone()[0]
        _end_replaced(conn, get_plan(conn, earlier), by_code, day, act)
    if replaced["valid_to"] is not None and replaced["valid_to"] <= day:
        return  # it had already ceased to apply
    if replaced["valid_from"] is not None and day <= replaced["valid_from"]:
        raise InputError(f"le plan {by_code} remplacerait {replaced['code']} le {day}, avant même que celui-ci "
                         f"n'entre en vigueur ({replaced['valid_from']})")
    conn.execute("UPDATE plans SET valid_to = %s WHERE id = %s", (day, replaced["id"]))
    _record_status(conn, replaced["id"], "remplace", day, act, f"remplacé par {by_code}")


def list_plans(conn: psycopg.Connection, on: date) -> list[dict]:
    """Every plan version with its status on date `on`, since when, and whether it applies that day."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            """SELECT code, kind, name, status, plan_status_on(id, %(on)s) AS status_on,
                      (SELECT max(effective_date) FROM plan_statuses s WHERE s.plan_id = p.id
                        AND s.effective_date <= %(on)s) AS status_since,
                      plan_in_force(id, %(on)s) AS in_force, approval_date, valid_from, valid_to, approval_act
               FROM plans p ORDER BY kind, code""", {"on": on}).fetchall()


def record_meta(conn: psycopg.Connection, key: str, value: object) -> None:
    """Store a JSON value in the meta table."""
    conn.execute("INSERT INTO meta (key, value, updated_at) VALUES (%s, %s, now()) ON CONFLICT (key) "
                 "DO UPDATE SET value = EXCLUDED.value, updated_at = now()", (key, Jsonb(value)))


def record_new_status(conn: psycopg.Connection, actor: str, code: str, status: str, day: date, act: str | None = None,
                      in_force_from: date | None = None) -> None:
    """`set_status`, audited (`plan.statut`, the status before and after, who): the CLI and the admin's page."""
    before = get_plan(conn, code)
    set_status(conn, code, status, day, act, in_force_from=in_force_from)
    audit(conn, actor, "plan.statut", "plan", code,
          {"status": before["status"], "status_date": str(before["status_date"])},
          {"status": status, "status_date": str(day), "act": act,
           "in_force_from": str(in_force_from) if in_force_from else None})


def revisions_in_inquiry(conn: psycopg.Connection) -> list[tuple[str, str]]:
    """(replaced plan, revision) of every regulatory plan in public inquiry that replaces another: the pairs whose
    impact the public map shows (a draft beside the plan in force)."""
    rows = conn.execute("SELECT f.code, t.code FROM plans t JOIN plans f ON f.id = t.replaces_id "
                        "WHERE t.status = 'enquete_publique' AND t.kind <> 'SDAU' ORDER BY t.code").fetchall()
    return [(a, b) for a, b in rows]
