"""Plan versions: statuses with dates, replacement on homologation, status on any day."""

from datetime import date

import pytest

from gis.errors import Conflict, InputError, NotFound
from layers.plans import create_plan, get_plan, list_plans, set_status

OLD = {"code": "PA-A-2006", "kind": "PA", "name": "PA A", "status": "homologue", "status_date": "2006-06-12",
       "approval_act": "Décret 2-06-100", "statuses": [{"status": "etude", "date": "2003-01-01"},
                                                       {"status": "enquete_publique", "date": "2005-03-01"}]}
NEW = {"code": "PA-A-2026", "kind": "PA", "name": "PA A révisé", "status": "enquete_publique",
       "status_date": "2026-09-15", "replaces": "PA-A-2006"}


def test_status_history_answers_for_any_day(conn):
    create_plan(conn, OLD)
    plan_id = get_plan(conn, "PA-A-2006")["id"]
    on = {d: conn.execute("SELECT plan_status_on(%s, %s)", (plan_id, d)).fetchone()[0]
          for d in ("2002-12-31", "2004-01-01", "2005-06-01", "2020-01-01")}
    assert on == {"2002-12-31": None, "2004-01-01": "etude", "2005-06-01": "enquete_publique",
                  "2020-01-01": "homologue"}
    assert get_plan(conn, "PA-A-2006")["valid_from"] == date(2006, 6, 12)


def test_homologation_of_the_new_version_replaces_the_old(conn):
    create_plan(conn, OLD)
    create_plan(conn, NEW)
    set_status(conn, "PA-A-2026", "homologue", date(2027, 2, 1), "Décret 2-27-001")
    old, new = get_plan(conn, "PA-A-2006"), get_plan(conn, "PA-A-2026")
    assert (old["status"], old["valid_to"]) == ("remplace", date(2027, 2, 1))
    assert (new["status"], new["valid_from"]) == ("homologue", date(2027, 2, 1))
    plans = {p["code"]: p["status_on"] for p in list_plans(conn, date(2026, 12, 1))}
    assert plans == {"PA-A-2006": "homologue", "PA-A-2026": "enquete_publique"}


def test_bad_plans_are_refused(conn):
    create_plan(conn, OLD)
    with pytest.raises(Conflict):
        create_plan(conn, OLD)
    with pytest.raises(InputError, match="statut"):
        create_plan(conn, {**NEW, "status": "vote"})
    with pytest.raises(NotFound):
        create_plan(conn, {**NEW, "replaces": "PA-NOPE"})
    with pytest.raises(InputError, match="antérieur"):
        set_status(conn, "PA-A-2006", "abroge", date(2000, 1, 1))
