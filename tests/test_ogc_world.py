"""The OGC tests' fixture is what its map says (tests/fixtures/ogc_world.sql and the grid of tests/helpers.py).

The OGC tests count by hand from that map; these checks keep the map and the data in step.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

import psycopg
import pytest
import shapely

from layers.plans import create_plan, set_status
from tests.helpers import OGC_COMMUNE_PARCELS, OGC_GRID_PARCELS, OGC_PARCELS, add_commune, box, grid_parcels

ROWS = {"communes": 3, "plans": 6, "plan_statuses": 12, "zones": 15, "prescriptions": 12, "sdau_zones": 3,
        "roads": 6, "establishments": 5, "parcels": OGC_PARCELS, "parcel_owners": 9, "api_keys": 2}


@pytest.fixture
def db(ogc_url):
    with psycopg.connect(ogc_url) as conn:
        yield conn


def test_row_counts(db):
    counts = {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ROWS}  # noqa: S608 - fixed names
    assert counts == ROWS
    assert OGC_PARCELS == 14 + OGC_GRID_PARCELS == 1014
    by_commune = dict(db.execute("SELECT commune_code, count(*) FROM parcels GROUP BY 1").fetchall())
    assert by_commune == OGC_COMMUNE_PARCELS


def test_every_geometry_is_valid_in_its_commune_and_no_parcels_overlap(db):
    for table in ("parcels", "zones", "prescriptions", "sdau_zones", "roads", "communes"):
        assert db.execute(f"SELECT bool_and(ST_IsValid(geom)) FROM {table}").fetchone()[0], table  # noqa: S608
    assert db.execute("SELECT count(*) FROM parcels p JOIN communes c ON c.code = p.commune_code "
                      "WHERE NOT ST_Within(p.geom, c.geom)").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM parcels a JOIN parcels b ON a.id < b.id AND a.geom && b.geom "
                      "AND ST_Overlaps(a.geom, b.geom)").fetchone()[0] == 0
    # zones of one plan version tile its ground without overlapping (ZV sits in D-1's hole)
    assert db.execute("SELECT count(*) FROM zones a JOIN zones b ON a.plan_id = b.plan_id AND a.id < b.id "
                      "AND ST_Overlaps(a.geom, b.geom)").fetchone()[0] == 0


def test_the_edge_case_parcels(db):
    rows = {r[0]: r[1:] for r in db.execute(
        "SELECT id, land_ref, ST_NumGeometries(geom), ST_NumInteriorRings(ST_GeometryN(geom, 1)), ST_NPoints(geom), "
        "round(area_m2) FROM parcels WHERE id <= 14")}
    assert rows[7] == ("TF 3300/C", 1, 1, 10, 3200)  # the courtyard house
    assert rows[9] == ("TF 7781/D", 2, 0, 10, 2400)  # two parts
    assert rows[13][0] == "TF 4/C" and rows[13][3] == 4801 and 80_000 < rows[13][4] < 81_000  # the park
    assert rows[6][0] is None  # untitled: no land reference
    assert db.execute("SELECT ST_Equals(ST_BuildArea(ST_InteriorRingN(ST_GeometryN(a.geom, 1), 1)), "
                      "ST_GeometryN(b.geom, 1)) FROM parcels a, parcels b WHERE a.id = 7 AND b.id = 8").fetchone()[0]
    # parcel 10 meets two zoom-16 tiles, which part it 30 m / 20 m; no other hand-made parcel is in both
    both = [r[0] for r in db.execute(
        "SELECT id FROM parcels WHERE id <= 14 AND ST_Intersects(geom, ST_Transform(ST_TileEnvelope(16, 31383, 26272), "
        "26191)) AND ST_Intersects(geom, ST_Transform(ST_TileEnvelope(16, 31384, 26272), 26191))")]
    assert both == [10]
    west = db.execute("SELECT ST_Area(ST_Intersection(geom, ST_Transform(ST_TileEnvelope(16, 31383, 26272), 26191))) "
                      "/ 40 FROM parcels WHERE id = 10").fetchone()[0]
    assert 29.5 < west < 30.5  # metres west of the edge (the parcel is 40 m deep)
    spellings = dict(db.execute("SELECT ref_text, land_ref FROM parcels WHERE id <= 14 AND ref_kind <> 'NI'"))
    assert spellings["T.F. n° 2452/C"] == "TF 2452/C" and spellings["Réq. 2002/C"] == "R 2002/C"
    assert spellings["tf5010-c"] == "TF 5010/C" and spellings["Titre foncier n° 8842/D"] == "TF 8842/D"


def test_non_ascii_text_is_stored_as_written(db):
    names = {r[0] for r in db.execute("SELECT name FROM communes")}
    assert names == {"Anfa — أنفا", "Maârif — المعاريف", "Sidi Belyout — سيدي بليوط"}
    assert db.execute("SELECT count(*) FROM zones WHERE label ~ '[\u0600-\u06FF]'").fetchone()[0] == 1
    assert db.execute("SELECT count(*) FROM parcel_owners WHERE full_name ~ '[\u0600-\u06FF]'").fetchone()[0] == 1


def test_plan_versions_and_what_applies_today(db):
    rows = db.execute("SELECT code, plan_in_force(id, CURRENT_DATE), plan_status_on(id, CURRENT_DATE) FROM plans "
                      "ORDER BY code").fetchall()
    assert rows == [("PA-ANFA-1989", False, "remplace"), ("PA-ANFA-2006", True, "homologue"),
                    ("PA-ANFA-2026", False, "enquete_publique"), ("PA-MAARIF-2008", True, "homologue"),
                    ("PA-MAARIF-2026", False, "homologue"), ("SDAU-CASA-2010", True, "homologue")]


def test_the_grid_is_deterministic_and_inside_its_communes():
    first, again = grid_parcels(), grid_parcels()
    assert [(n, s, c, a, g.wkt) for n, s, c, a, g in first] == [(n, s, c, a, g.wkt) for n, s, c, a, g in again]
    assert len(first) == OGC_GRID_PARCELS and len({n for n, *_ in first}) == len(first)
    geoms = [g for *_, g in first]
    assert math.isclose(shapely.area(shapely.union_all(geoms)), 300.0 * len(geoms))  # no overlap
    communes = {"ANFA": box(0, 0, 600, 1000), "MAARIF": box(600, 0, 600, 1000), "SIDI-BELYOUT": box(1200, 0, 600, 1000)}
    assert all(communes[c].contains(g) for _, _, c, _, g in first)
    assert max(g.bounds[3] for g in geoms) < box(0, 480, 1, 1).bounds[1]  # south of the boulevards


def _plan_rows(conn: psycopg.Connection) -> tuple[list, list]:
    plans = conn.execute(
        "SELECT p.code, p.kind, p.status, p.status_date, p.approval_act, p.approval_date, p.valid_from, p.valid_to, "
        "r.code, p.commune_codes, ST_AsText(ST_Normalize(ST_Simplify(p.perimeter, 0.001))) FROM plans p "  # no collinear
        "LEFT JOIN plans r "
        "ON r.id = p.replaces_id ORDER BY p.code").fetchall()
    statuses = conn.execute("SELECT p.code, s.status, s.effective_date, s.act, s.note FROM plan_statuses s "
                            "JOIN plans p ON p.id = s.plan_id ORDER BY 1, 3, 2").fetchall()
    return plans, statuses


def test_the_plan_rows_are_what_layers_plans_makes_of_the_same_history(db, make_db):
    """The SQL file writes plans and their history by hand: the same history through create_plan and set_status
    (as an import and `urbasig plan-status` do) gives the same rows, so the fixture means what the app means."""
    today = db.execute("SELECT CURRENT_DATE").fetchone()[0]
    with psycopg.connect(make_db()) as conn:
        for code, x in (("ANFA", 0), ("MAARIF", 600), ("SIDI-BELYOUT", 1200)):
            add_commune(conn, code, box(x, 0, 600, 1000))
        create_plan(conn, {"code": "PA-ANFA-1989", "kind": "PA", "name": "-", "status": "homologue",
                           "status_date": "1989-07-18", "approval_act": "Décret n° 2-89-301", "commune_codes": ["ANFA"]})
        create_plan(conn, {"code": "PA-ANFA-2006", "kind": "PA", "name": "-", "status": "homologue",
                           "status_date": "2006-06-12", "approval_act": "Décret n° 2-06-123", "replaces": "PA-ANFA-1989",
                           "commune_codes": ["ANFA"], "statuses": [{"status": "enquete_publique", "date": "2005-03-01"}]})
        create_plan(conn, {"code": "PA-ANFA-2026", "kind": "PA", "name": "-", "status": "enquete_publique",
                           "status_date": "2026-09-15", "replaces": "PA-ANFA-2006", "commune_codes": ["ANFA"],
                           "statuses": [{"status": "etude", "date": "2024-02-01"},
                                        {"status": "enquete_publique", "date": "2026-09-15",
                                         "act": "Arrêté d'ouverture de l'enquête"}]})
        create_plan(conn, {"code": "PA-MAARIF-2008", "kind": "PA", "name": "-", "status": "homologue",
                           "status_date": "2008-03-27", "approval_act": "Décret n° 2-08-77",
                           "commune_codes": ["MAARIF"]})
        create_plan(conn, {"code": "PA-MAARIF-2026", "kind": "PA", "name": "-", "status": "enquete_publique",
                           "status_date": "2025-05-01", "replaces": "PA-MAARIF-2008", "commune_codes": ["MAARIF"]})
        set_status(conn, "PA-MAARIF-2026", "homologue", today - timedelta(days=10), "Décret n° 2-26-418",
                   in_force_from=today + timedelta(days=20))
        create_plan(conn, {"code": "SDAU-CASA-2010", "kind": "SDAU", "name": "-", "status": "homologue",
                           "status_date": date(2010, 1, 14), "approval_act": "Décret n° 2-09-611",
                           "commune_codes": ["ANFA", "MAARIF", "SIDI-BELYOUT"],
                           "statuses": [{"status": "etude", "date": "2006-01-10"}]})
        conn.commit()
        assert _plan_rows(conn) == _plan_rows(db)
