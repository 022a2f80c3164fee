"""The plan lifecycle where a legal answer depends on it: replacement on import, entry into force, and two
plans in force on the same ground (resolved by the later act, reported, and found by QA)."""

from __future__ import annotations

from datetime import date

import pytest
import shapely

from gis.errors import Conflict, InputError
from instruction.bulk import bulk_instruct
from instruction.engine import instruct
from instruction.land import LandRequest
from instruction.summary import summary_text
from layers.imports import ImportRequest, run_import
from layers.mapping import parse_mapping
from layers.plans import create_plan, get_plan, list_plans, set_status
from layers.qa import check_plan
from tests import instruction_world as world
from tests.helpers import box, write_layer

E = {"code": "E", "label": "Équipements", "storeys_max": 3}


@pytest.fixture
def wconn(conn):
    world.build(conn)
    return conn


def _plan_with_zone(conn, code, zone_box, **spec):
    """A PA homologated with one zone E whose perimeter is the zone itself."""
    plan_id = create_plan(conn, {"code": code, "kind": "PA", "name": f"Plan {code}", "status": "homologue",
                                 "approval_act": f"Décret {code}", **spec})
    conn.execute("UPDATE plans SET perimeter = ST_Multi(ST_GeomFromText(%s, 26191)) WHERE id = %s",
                 (zone_box.wkt, plan_id))
    conn.execute("INSERT INTO zones (plan_id, code, label, storeys_max, geom) VALUES (%s, %s, %s, %s, "
                 "ST_Multi(ST_GeomFromText(%s, 26191)))", (plan_id, E["code"], E["label"], E["storeys_max"], zone_box.wkt))
    return plan_id


def _zones(result):
    return sorted((f["code"], f["plan"], f["area_m2"]) for f in result["layers"][0]["features"])


# --- 1. a homologated version imported with `replaces` ends the old one in the same transaction
def test_importing_a_homologated_replacement_ends_the_old_version(wconn, tmp_path):
    path = write_layer(tmp_path / "z.gpkg", [{"ZONE": "B"}], [box(0, 0, 1000, 1000)])
    mapping = parse_mapping({"layer": "zones", "fields": {"code": "ZONE"},
                             "plan": {"code": "PA-T-2030", "kind": "PA", "name": "PA test 2030", "status": "homologue",
                                      "status_date": "2030-01-15", "approval_act": "Décret 2-30-001",
                                      "replaces": "PA-T-2020", "commune_codes": ["ANFA"]}})
    run_import(wconn, ImportRequest(path=path, layer="zones", mapping=mapping))
    old = get_plan(wconn, "PA-T-2020")
    assert (old["status"], old["valid_to"]) == ("remplace", date(2030, 1, 15))
    after = instruct(wconn, LandRequest(refs=("TF 1/T",)), date(2031, 1, 1))
    assert [p["code"] for p in after["plans"]["applied"]] == ["PA-T-2030"]
    assert _zones(after) == [("B", "PA-T-2030", 2000.0)]
    assert not after["conflicts"]
    before = instruct(wconn, LandRequest(refs=("TF 1/T",)), date(2029, 12, 31))
    assert [p["code"] for p in before["plans"]["applied"]] == ["PA-T-2020"]


def test_a_failed_import_leaves_the_replaced_version_in_force(wconn, tmp_path):
    path = write_layer(tmp_path / "z.gpkg", [{"ZONE": None}], [box(0, 0, 1000, 1000)])  # zone code missing
    mapping = parse_mapping({"layer": "zones", "fields": {"code": "ZONE"},
                             "plan": {"code": "PA-T-2030", "kind": "PA", "name": "PA 2030", "status": "homologue",
                                      "status_date": "2030-01-15", "replaces": "PA-T-2020"}})
    with pytest.raises(InputError):
        run_import(wconn, ImportRequest(path=path, layer="zones", mapping=mapping))
    wconn.rollback()
    assert get_plan(wconn, "PA-T-2020")["status"] == "homologue" and get_plan(wconn, "PA-T-2020")["valid_to"] is None


# --- 3. approval and entry into force are two dates
def test_a_plan_approved_one_day_applies_from_a_later_one(wconn):
    create_plan(wconn, {"code": "PA-T-2024", "kind": "PA", "name": "PA test 2024", "status": "enquete_publique",
                        "status_date": "2023-05-01", "replaces": "PA-T-2020", "commune_codes": ["ANFA"]})
    plan_id = get_plan(wconn, "PA-T-2024")["id"]
    wconn.execute("INSERT INTO zones (plan_id, code, storeys_max, geom) VALUES (%s, 'B', 8, "
                  "ST_Multi(ST_GeomFromText(%s, 26191)))", (plan_id, box(0, 0, 1000, 1000).wkt))
    set_status(wconn, "PA-T-2024", "homologue", date(2024, 1, 10), "Décret 2-24-010", in_force_from=date(2024, 3, 1))
    plan = get_plan(wconn, "PA-T-2024")
    assert (plan["approval_date"], plan["valid_from"]) == (date(2024, 1, 10), date(2024, 3, 1))
    between = instruct(wconn, LandRequest(refs=("TF 1/T",)), date(2024, 2, 1))
    assert [p["code"] for p in between["plans"]["applied"]] == ["PA-T-2020"]  # approved, not yet in force
    listed = {p["code"]: p for p in list_plans(wconn, date(2024, 2, 1))}
    assert listed["PA-T-2024"]["status_on"] == "homologue" and not listed["PA-T-2024"]["in_force"]
    assert listed["PA-T-2020"]["in_force"]
    on = instruct(wconn, LandRequest(refs=("TF 1/T",)), date(2024, 3, 1))
    assert [p["code"] for p in on["plans"]["applied"]] == ["PA-T-2024"]
    assert get_plan(wconn, "PA-T-2020")["valid_to"] == date(2024, 3, 1)
    in_force = {d: wconn.execute("SELECT plan_in_force(%s, %s)", (plan_id, d)).fetchone()[0]
                for d in (date(2024, 1, 9), date(2024, 1, 10), date(2024, 2, 29), date(2024, 3, 1))}
    assert in_force == {date(2024, 1, 9): False, date(2024, 1, 10): False, date(2024, 2, 29): False,
                        date(2024, 3, 1): True}


def test_dates_that_cannot_be_are_refused_in_french(wconn):
    with pytest.raises(InputError, match="ne peut précéder"):
        create_plan(wconn, {"code": "PA-BAD", "kind": "PA", "name": "x", "status": "homologue",
                            "status_date": "2024-05-01", "valid_from": "2024-04-01"})
    with pytest.raises(InputError, match="doit suivre"):
        create_plan(wconn, {"code": "PA-BAD", "kind": "PA", "name": "x", "status": "homologue",
                            "status_date": "2024-05-01", "valid_to": "2024-01-01"})
    with pytest.raises(InputError, match="date"):
        create_plan(wconn, {"code": "PA-BAD", "kind": "PA", "name": "x", "status": "homologue", "status_date": 5})
    with pytest.raises(InputError, match="homologation"):
        set_status(wconn, "PA-T-2020", "abroge", date(2030, 1, 1), in_force_from=date(2030, 2, 1))


# --- 2. two regulatory plans in force on the same ground: the later act applies there, reported by name
def test_overlapping_plans_in_force_the_later_act_wins_on_the_overlap(wconn):
    # PA-X covers x 50–80 from 2022; TF 1/T (x 44–84, y 0–50) is V2 | D under PA-T-2020 (cut at x 60)
    _plan_with_zone(wconn, "PA-X-2022", box(50, 0, 30, 1000), status_date="2022-03-01")
    result = instruct(wconn, LandRequest(refs=("TF 1/T",)), date(2023, 1, 1))
    assert _zones(result) == [("D", "PA-T-2020", 200.0), ("E", "PA-X-2022", 1500.0), ("V2", "PA-T-2020", 300.0)]
    assert sum(f["share_pct"] for f in result["layers"][0]["features"]) == pytest.approx(100.0)
    assert result["layers"][0]["coverage"] == "covered"
    (conflict,) = result["conflicts"]
    assert (conflict["applied"], conflict["set_aside"], conflict["overlap_m2"], conflict["overlap_pct"]) == \
        ("PA-X-2022", "PA-T-2020", 1500.0, 75.0)
    assert (conflict["applied_since"], conflict["set_aside_since"]) == ("2022-03-01", "2020-01-01")
    assert "conflit_de_plans" in [w["code"] for w in result["warnings"]]
    assert "PA-X-2022" in summary_text(result) and "l'acte postérieur" in summary_text(result)
    # before PA-X, no conflict; a land wholly inside the overlap is governed by PA-X alone
    assert not instruct(wconn, LandRequest(refs=("TF 1/T",)), date(2021, 1, 1))["conflicts"]
    square = {"type": "Polygon", "coordinates": [[list(xy) for xy in box(55, 300, 20, 20).exterior.coords]]}
    inside = instruct(wconn, LandRequest(geometry=square, crs="EPSG:26191"), date(2023, 1, 1))
    assert [p["code"] for p in inside["plans"]["applied"]] == ["PA-X-2022"]
    assert _zones(inside) == [("E", "PA-X-2022", 400.0)]


def test_two_plans_in_force_since_the_same_day_are_refused(wconn):
    _plan_with_zone(wconn, "PA-Y-2020", box(50, 0, 30, 1000), status_date="2020-01-01")
    with pytest.raises(Conflict, match="impossible de dire lequel"):
        instruct(wconn, LandRequest(refs=("TF 1/T",)), date(2023, 1, 1))


def test_bulk_instruction_applies_the_same_precedence(wconn):
    _plan_with_zone(wconn, "PA-X-2022", box(50, 0, 30, 1000), status_date="2022-03-01")
    summary, text = bulk_instruct(wconn, "ANFA", date(2023, 1, 1))
    rows = [line.split(",") for line in text.splitlines()[1:] if line.split(",")[1] == "TF 1/T"]
    assert sorted((r[2], r[3], r[5]) for r in rows) == [("PA-T-2020", "D", "200.00"), ("PA-T-2020", "V2", "300.00"),
                                                        ("PA-X-2022", "E", "1500.00")]
    assert summary["conflicts"] == [{"applied": "PA-X-2022", "set_aside": "PA-T-2020", "overlap_m2": 30000.0}]


def test_qa_lists_plans_in_force_on_the_same_ground_with_area_and_dates(wconn):
    _plan_with_zone(wconn, "PA-X-2022", box(50, 0, 30, 1000), status_date="2022-03-01")
    report = check_plan(wconn, "PA-X-2022")
    (found,) = report.of("plans_overlap")
    assert round(found.area_m2, 2) == 30000.0
    assert "PA-T-2020" in found.detail and "2022-03-01" in found.detail and "2020-01-01" in found.detail
    assert not check_plan(wconn, "PA-T-2006").of("plans_overlap")  # ended 2020-01-01, before PA-X
    assert "plans_overlap" in report.to_dict()["counts"]


def test_the_note_pdf_states_the_conflict(wconn):
    from instruction.engine import Options
    from notes.indicative import build, pdf

    _plan_with_zone(wconn, "PA-X-2022", box(50, 0, 30, 1000), status_date="2022-03-01")
    note = build(wconn, LandRequest(refs=("TF 1/T",)), date(2023, 1, 1), Options())
    text = _pdf_text(pdf(note))
    assert "PA-X-2022" in text and "postérieur" in text


def _pdf_text(data: bytes) -> str:
    import subprocess

    out = subprocess.run(["pdftotext", "-", "-"], input=data, capture_output=True, check=True)
    return " ".join(out.stdout.decode().split())



# --- found in review: the corners of the lifecycle
def _applied(conn, day, ref="TF 1/T"):
    return [p["code"] for p in instruct(conn, LandRequest(refs=(ref,)), day)["plans"]["applied"]]


def _successor(conn, code="PA-T-2024", replaces="PA-T-2020"):
    create_plan(conn, {"code": code, "kind": "PA", "name": f"PA {code}", "status": "enquete_publique",
                       "status_date": "2023-05-01", "replaces": replaces, "commune_codes": ["ANFA"]})


def test_an_approval_date_unlike_the_status_date_of_a_homologated_version_is_refused(wconn):
    with pytest.raises(InputError, match="approval_date"):
        create_plan(wconn, {"code": "PA-T-2030", "kind": "PA", "name": "x", "status": "homologue",
                            "status_date": "2030-01-15", "approval_date": "2029-12-01", "replaces": "PA-T-2020"})


def test_homologating_again_moves_the_end_of_the_replaced_version(wconn):
    _successor(wconn)
    set_status(wconn, "PA-T-2024", "homologue", date(2024, 1, 10), "Décret", in_force_from=date(2024, 3, 1))
    set_status(wconn, "PA-T-2024", "homologue", date(2024, 1, 10), "Décret", in_force_from=date(2024, 5, 1))
    assert get_plan(wconn, "PA-T-2020")["valid_to"] == date(2024, 5, 1)
    assert _applied(wconn, date(2024, 4, 1)) == ["PA-T-2020"]
    assert _applied(wconn, date(2024, 5, 1)) == ["PA-T-2024"]


def test_annulled_before_entering_into_force_the_old_version_goes_on(wconn):
    _successor(wconn)
    set_status(wconn, "PA-T-2024", "homologue", date(2024, 1, 10), "Décret", in_force_from=date(2024, 3, 1))
    set_status(wconn, "PA-T-2024", "annule", date(2024, 2, 1), "Jugement")
    old = get_plan(wconn, "PA-T-2020")
    assert (old["status"], old["valid_to"]) == ("homologue", None)
    assert _applied(wconn, date(2024, 6, 1)) == ["PA-T-2020"]


def test_a_chain_through_a_draft_ends_the_version_really_in_force(wconn):
    _successor(wconn, "PA-N", "PA-T-2020")  # a draft that never came into force
    _successor(wconn, "PA-M", "PA-N")
    set_status(wconn, "PA-M", "homologue", date(2025, 1, 1), "Décret")
    assert get_plan(wconn, "PA-T-2020")["valid_to"] == date(2025, 1, 1)
    result = instruct(wconn, LandRequest(refs=("TF 1/T",)), date(2025, 6, 1))
    assert [p["code"] for p in result["plans"]["applied"]] == ["PA-M"] and not result["conflicts"]


def test_with_three_plans_a_conflict_is_only_where_each_plan_really_governs(wconn):
    _plan_with_zone(wconn, "PA-X-2022", box(50, 0, 30, 1000), status_date="2022-03-01")
    _plan_with_zone(wconn, "PA-Z-2023", box(50, 0, 30, 1000), status_date="2023-03-01")  # same ground, later
    result = instruct(wconn, LandRequest(refs=("TF 1/T",)), date(2024, 1, 1))
    pairs = sorted((c["applied"], c["set_aside"], c["overlap_m2"]) for c in result["conflicts"])
    assert pairs == [("PA-Z-2023", "PA-T-2020", 1500.0), ("PA-Z-2023", "PA-X-2022", 1500.0)]
    assert _zones(result) == [("D", "PA-T-2020", 200.0), ("E", "PA-Z-2023", 1500.0), ("V2", "PA-T-2020", 300.0)]


def test_a_plan_approved_but_not_yet_in_force_is_announced(wconn):
    _successor(wconn)
    set_status(wconn, "PA-T-2024", "homologue", date(2024, 1, 10), "Décret 2-24-010", in_force_from=date(2024, 3, 1))
    result = instruct(wconn, LandRequest(refs=("TF 1/T",)), date(2024, 2, 1))
    (warning,) = [w for w in result["warnings"] if w["code"] == "plan_homologue_a_venir"]
    assert "2024-03-01" in warning["message"] and "PA-T-2020" in warning["message"]


def test_qa_reports_only_the_periods_in_force(wconn):
    # a draft in public inquiry that carries an intended valid_from is not in force: no overlap to report
    create_plan(wconn, {"code": "PA-DRAFT", "kind": "PA", "name": "Projet", "status": "enquete_publique",
                        "status_date": "2021-06-01", "valid_from": "2022-01-01", "commune_codes": ["ANFA"]})
    assert not check_plan(wconn, "PA-DRAFT").of("plans_overlap")
    # an abrogated one overlapped only while it was in force
    _plan_with_zone(wconn, "PA-AB", box(50, 0, 30, 1000), status_date="2021-01-01")
    set_status(wconn, "PA-AB", "abroge", date(2021, 6, 1), "Décret d'abrogation")
    (found,) = check_plan(wconn, "PA-AB").of("plans_overlap")
    assert "du 2021-01-01 au 2021-06-01 (exclu)" in found.detail and "PA-T-2020" in found.detail


def test_a_past_version_loaded_with_its_history_applied_in_its_period(wconn):
    create_plan(wconn, {"code": "PA-OLD", "kind": "PA", "name": "PA ancien", "status": "remplace",
                        "status_date": "2005-01-01", "statuses": [{"status": "homologue", "date": "1995-01-01"}]})
    plan = get_plan(wconn, "PA-OLD")
    assert (plan["valid_from"], plan["valid_to"]) == (date(1995, 1, 1), date(2005, 1, 1))
    on = {d: wconn.execute("SELECT plan_in_force(%s, %s)", (plan["id"], d)).fetchone()[0]
          for d in (date(2000, 1, 1), date(2006, 1, 1))}
    assert on == {date(2000, 1, 1): True, date(2006, 1, 1): False}


def test_a_version_in_force_without_a_perimeter_is_refused_at_import(wconn, tmp_path):
    path = write_layer(tmp_path / "w.gpkg", [{"NATURE": "alignment"}], [shapely.LineString(box(0, 0, 5, 5).exterior.coords)])
    mapping = parse_mapping({"layer": "prescriptions", "fields": {"kind": "NATURE"},
                             "plan": {"code": "PA-T-2030", "kind": "PA", "name": "PA 2030", "status": "homologue",
                                      "status_date": "2030-01-15", "replaces": "PA-T-2020"}})
    with pytest.raises(InputError, match="périmètre de la version PA-T-2030 est inconnu"):
        run_import(wconn, ImportRequest(path=path, layer="prescriptions", mapping=mapping))
    wconn.rollback()
    assert get_plan(wconn, "PA-T-2020")["valid_to"] is None
