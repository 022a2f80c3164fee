"""Bulk instruction of a commune: vectorised shares agree with the set-based SQL and the single instruction."""

from datetime import date

import numpy as np
import pytest
import shapely

from instruction import precedence
from instruction.bulk import bulk_instruct, governed_zones, lone_zones
from layers import bulk_zoning as q
from tests import instruction_world as world
from tests.helpers import box


@pytest.fixture
def wconn(conn):
    world.build(conn)
    return conn


def _rows(text):
    lines = text.strip().splitlines()
    header = lines[0].split(",")
    return [dict(zip(header, line.split(","), strict=True)) for line in lines[1:]]


def test_bulk_shares_match_hand_answers(wconn):
    summary, text = bulk_instruct(wconn, "ANFA", date(2015, 1, 1))
    rows = _rows(text)
    tf1 = [(r["zone"], r["area_m2"], r["share_pct"], r["marginal"]) for r in rows if r["land_ref"] == "TF 1/T"]
    assert tf1 == [("V2", "800.00", "40.00", "non"), ("D", "1200.00", "60.00", "non")]
    tf3 = {r["zone"]: r["marginal"] for r in rows if r["land_ref"] == "TF 3/T"}
    assert tf3 == {"D": "non", "C": "oui"}
    assert [r["zone"] for r in rows if r["land_ref"] == "TF 4/T"] == ["C"]
    assert not [r for r in rows if r["land_ref"] in ("TF 5/T", "TF 6/T")]  # outside the PA
    assert summary["parcels"] == len(world.PARCELS) and summary["straddling"] == 2


def test_bulk_follows_the_date(wconn):
    _, text = bulk_instruct(wconn, "ANFA", date(2021, 1, 1))
    assert [r["zone"] for r in _rows(text) if r["land_ref"] == "TF 4/T"] == ["B"]


def test_vectorised_and_sql_agree(wconn):
    day = date(2015, 1, 1)
    _, text = bulk_instruct(wconn, "ANFA", day)
    ids = {r["land_ref"]: int(r["parcel_id"]) for r in _rows(text)}
    ours = {(int(r["parcel_id"]), r["zone"]): float(r["area_m2"]) for r in _rows(text)}
    plan_ids = [p["id"] for p in q.plans_in_force(wconn, "ANFA", day)]
    zones = {z["id"]: z["code"] for z in q.plan_zones(wconn, plan_ids)}
    sql = {(p, zones[z]): a for p, z, a, _ in q.bulk_zone_shares_sql(wconn, "ANFA", plan_ids) if a > 0.005}
    assert set(ours) == set(sql) and ids
    for key, area in sql.items():
        assert ours[key] == pytest.approx(area, abs=0.01)


# ------------------------------------------------------------------ the parcels wholly inside a zone, and the others
def _add_parcels(conn, geoms, first_number=100):
    for number, geom in enumerate(geoms, start=first_number):
        conn.execute("INSERT INTO parcels (ref_kind, ref_number, ref_suffix, ref_text, commune_code, geom) VALUES "
                     "('TF', %s, 'T', %s, 'ANFA', ST_Multi(ST_GeomFromText(%s, 26191)))",
                     (number, f"TF {number}/T", geom.wkt))
    conn.commit()


def _sql_split(conn, commune, day):
    """The parcels the database finds wholly inside one lone zone (layers/bulk_zoning.py commune_split): {ref: zone}."""
    plans = q.plans_in_force(conn, commune, day)
    conflicts, yielded = precedence.resolve(plans, {p["id"]: shapely.from_wkb(p["cover_wkb"]) for p in plans})
    zones = q.plan_zones(conn, [p["id"] for p in plans])
    geoms = governed_zones(zones, plans, yielded)
    keys = np.flatnonzero(lone_zones(geoms, np.arange(len(zones)), np.zeros(len(zones), dtype=np.int64)))
    split = q.commune_split(conn, commune, shapely.to_wkb(geoms[keys]).tolist(), keys.tolist())
    return {ref: zones[k]["code"] for ref, k in zip(split.refs, split.zone_key.tolist(), strict=True) if k >= 0}


def test_a_parcel_over_a_limit_by_a_one_square_metre_sliver_keeps_both_parts(wconn):
    # the V2 | D limit runs at x = 60: this parcel of D reaches 5 cm into V2 over 20 m, 1 m²
    _add_parcels(wconn, [box(59.95, 500, 20.05, 20)])
    _, text = bulk_instruct(wconn, "ANFA", date(2015, 1, 1))
    rows = [(r["zone"], r["area_m2"], r["marginal"]) for r in _rows(text) if r["land_ref"] == "TF 100/T"]
    assert rows == [("V2", "1.00", "oui"), ("D", "400.00", "non")]
    assert "TF 100/T" not in _sql_split(wconn, "ANFA", date(2015, 1, 1))  # not wholly inside D for the database either


def test_a_parcel_whose_side_is_the_limit_is_wholly_inside(wconn):
    # its west side is the V2 | D limit itself: covered by D (boundary shared), nothing in V2, no intersection
    _add_parcels(wconn, [box(60, 600, 20, 20), box(40, 600, 20, 20)])
    summary, text = bulk_instruct(wconn, "ANFA", date(2015, 1, 1))
    rows = {r["land_ref"]: (r["zone"], r["area_m2"], r["share_pct"]) for r in _rows(text) if r["land_ref"] in
            ("TF 100/T", "TF 101/T")}
    assert rows == {"TF 100/T": ("D", "400.00", "100.00"), "TF 101/T": ("V2", "400.00", "100.00")}
    assert summary["straddling"] == 2  # TF 1/T and TF 3/T only, as before these two were added
    split = _sql_split(wconn, "ANFA", date(2015, 1, 1))
    assert split["TF 100/T"] == "D" and split["TF 101/T"] == "V2"
