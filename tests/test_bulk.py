"""Bulk instruction of a commune: vectorised shares agree with the set-based SQL and the single instruction."""

from datetime import date

import pytest

from instruction.bulk import bulk_instruct
from layers import bulk_zoning as q
from tests import instruction_world as world


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
