"""Plan QA on a hand-built plan whose problems are known: areas worked out by hand."""

import pytest

from layers.plans import create_plan
from layers.qa import check_plan
from tests.helpers import X0, Y0, box


def _zone(conn, plan_id, code, geom, rules=True):
    conn.execute("INSERT INTO zones (plan_id, code, storeys_max, geom) VALUES (%s, %s, %s, "
                 "ST_Multi(ST_GeomFromText(%s, 26191)))", (plan_id, code, 2 if rules else None, geom.wkt))


@pytest.fixture
def plan(conn):
    plan_id = create_plan(conn, {"code": "PA-QA", "kind": "PA", "name": "QA", "status": "etude",
                                 "status_date": "2026-01-01"})
    conn.execute("UPDATE plans SET perimeter = ST_Multi(ST_GeomFromText(%s, 26191)) WHERE id = %s",
                 (box(0, 0, 100, 50).wkt, plan_id))
    _zone(conn, plan_id, "A", box(0, 0, 40, 50))
    _zone(conn, plan_id, "B", box(41, 0, 59, 50))  # a 1 m gap from A
    _zone(conn, plan_id, "C", box(30, 0, 15, 10), rules=False)  # overlaps A and B, no rules
    conn.execute("INSERT INTO prescriptions (plan_id, kind, geom) VALUES (%s, 'green_space', "
                 "ST_GeomFromText(%s, 26191))", (plan_id, box(90, 40, 20, 20).wkt))
    conn.execute("INSERT INTO prescriptions (plan_id, kind, geom) VALUES (%s, 'alignment', "
                 "ST_GeomFromText(%s, 26191))", (plan_id, f"LINESTRING({X0 + 10} {Y0 + 10}, {X0 + 20} {Y0 + 10})"))
    return "PA-QA"


def test_gaps_overlaps_missing_rules_and_stray_prescriptions(conn, plan):
    report = check_plan(conn, plan)
    assert not report.ok
    assert [round(f.area_m2, 3) for f in report.of("gap")] == [40.0]  # 1 m × 50 m minus 1 m × 10 m under C
    assert sorted(round(f.area_m2, 3) for f in report.of("overlap")) == [40.0, 100.0]
    assert [f.detail for f in report.of("no_regulation")] == ["zone 3 (C) sans aucune règle"]
    outside = report.of("outside_perimeter")
    assert len(outside) == 1 and round(outside[0].area_m2, 3) == 300.0  # 400 m² minus the 100 m² inside
    gap = report.of("gap")[0]
    assert X0 + 40 <= gap.x <= X0 + 41 and -8 < gap.lon < -7 and 33 < gap.lat < 34
    text = report.describe()
    assert "trous entre zones : 1" in text and "40.00 m²" in text


def test_clean_plan_reports_nothing(conn):
    plan_id = create_plan(conn, {"code": "PA-OK", "kind": "PA", "name": "OK", "status": "etude",
                                 "status_date": "2026-01-01"})
    _zone(conn, plan_id, "A", box(0, 0, 40, 50))
    _zone(conn, plan_id, "B", box(40, 0, 60, 50))
    report = check_plan(conn, "PA-OK")
    assert report.ok and report.to_dict()["counts"] == {"gap": 0, "overlap": 0, "no_regulation": 0,
                                                        "outside_perimeter": 0, "plans_overlap": 0}


def test_holes_are_gaps_without_a_perimeter(conn):
    plan_id = create_plan(conn, {"code": "PA-HOLE", "kind": "PA", "name": "H", "status": "etude",
                                 "status_date": "2026-01-01"})
    ring = box(0, 0, 30, 30).difference(box(10, 10, 5, 5))
    _zone(conn, plan_id, "A", ring)
    report = check_plan(conn, "PA-HOLE")
    assert [round(f.area_m2, 3) for f in report.of("gap")] == [25.0]
