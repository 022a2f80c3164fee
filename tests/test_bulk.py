"""Bulk instruction of a commune: vectorised shares agree with the set-based SQL and the single instruction."""

from datetime import date

import numpy as np
import psycopg
import pytest
import shapely
import shapely.affinity

from instruction import precedence
from instruction.bulk import bulk_instruct, governed_zones, lone_zones, zone_shares
from layers import bulk_zoning as q
from layers.plans import create_plan
from layers.rule_sets import rule_set
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
    with conn.cursor() as cur:  # one pipelined batch, not a round trip per parcel
        cur.executemany("INSERT INTO parcels (ref_kind, ref_number, ref_suffix, ref_text, commune_code, geom) VALUES "
                        "('TF', %s, 'T', %s, 'ANFA', ST_Multi(ST_GeomFromText(%s, 26191)))",
                        [(number, f"TF {number}/T", geom.wkt) for number, geom in enumerate(geoms, start=first_number)])
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


# ------------------------------------------------------------------ the same answers as the path it replaced
def _reference(conn, commune, day):
    """The bulk instruction as it was before the packed load and the zone filter: one row per parcel, every zone of
    the plans in force overlaid. The CSV the product writes must be the same, byte for byte."""
    thresholds = rule_set(conn, "thresholds", day)[1]
    plans = q.plans_in_force(conn, commune, day)
    conflicts, yielded = precedence.resolve(plans, {p["id"]: shapely.from_wkb(p["cover_wkb"]) for p in plans})
    rows = conn.execute("SELECT id, land_ref, ST_AsBinary(geom) FROM parcels WHERE commune_code = %s ORDER BY id",
                        (commune,)).fetchall()
    zones = q.plan_zones(conn, [p["id"] for p in plans])
    geoms = shapely.from_wkb([z["wkb"] for z in zones])
    plan_ids = {p["code"]: p["id"] for p in plans}
    for i, zone in enumerate(zones):
        if plan_ids[zone["plan"]] in yielded:
            geoms[i] = shapely.difference(geoms[i], yielded[plan_ids[zone["plan"]]])
    result = zone_shares(shapely.from_wkb([r[2] for r in rows]), geoms, thresholds["marginal_share_pct"],
                         thresholds["marginal_area_m2"])
    lines = ["parcel_id,land_ref,plan,zone,sector,area_m2,share_pct,marginal"]
    for pi, zi, area, share, marginal in zip(result.parcel_index, result.zone_index, result.area_m2, result.share_pct,
                                             result.marginal, strict=True):
        zone = zones[zi]
        lines.append(f"{rows[pi][0]},{rows[pi][1] or ''},{zone['plan']},{zone['code']},{zone['sector'] or ''},"
                     f"{area:.2f},{share:.2f},{'oui' if marginal else 'non'}")
    counts = {"parcels": len(rows), "with_zone": len(set(result.parcel_index.tolist())),
              "straddling": result.straddling, "pairs": len(result.parcel_index),
              "conflicts": [(c.applied["code"], c.set_aside["code"], round(c.overlap_m2, 2)) for c in conflicts]}
    return counts, "\n".join(lines) + "\n"


def _counts(summary):
    return {**{k: summary[k] for k in ("parcels", "with_zone", "straddling", "pairs")},
            "conflicts": [(c["applied"], c["set_aside"], c["overlap_m2"]) for c in summary["conflicts"]]}


def test_the_sample_territory_gets_the_answers_of_the_reference_path(sample_url):
    with psycopg.connect(sample_url) as conn:
        communes = [r[0] for r in conn.execute("SELECT commune_code FROM parcels GROUP BY 1 ORDER BY count(*) DESC LIMIT 2")]
        checked = 0
        for commune in communes:
            summary, text = bulk_instruct(conn, commune)
            counts, expected = _reference(conn, commune, date.today())
            assert (_counts(summary), text) == (counts, expected), commune
            checked += summary["pairs"]
    assert len(communes) >= 2 and checked > 1000


def test_a_straddling_heavy_commune_and_a_plan_yielding_get_the_answers_of_the_reference_path(wconn):
    # 600 parcels of 9 × 7 m, tilted, around the limits at x = 60 (V2 | D), 239.5 (D | C) and 300 (C | B, 2020):
    # about a sixth of them straddle one; in 2023 a later plan over x 50–80 takes part of V2 and D (yielded ground)
    rng = np.random.default_rng(3)
    xs = np.concatenate([rng.uniform(40, 80, 200), rng.uniform(220, 260, 200), rng.uniform(280, 320, 200)])
    ys = rng.uniform(300, 900, 600)
    geoms = [shapely.affinity.rotate(box(x, y, 9, 7), float(a)) for x, y, a in zip(xs, ys, rng.uniform(0, 40, 600),
                                                                                    strict=True)]
    _add_parcels(wconn, geoms)
    plan_id = create_plan(wconn, {"code": "PA-X-2022", "kind": "PA", "name": "Plan X", "status": "homologue",
                                  "status_date": "2022-03-01", "approval_act": "Décret X"})
    wconn.execute("UPDATE plans SET perimeter = ST_Multi(ST_GeomFromText(%s, 26191)) WHERE id = %s",
                  (box(50, 0, 30, 1000).wkt, plan_id))
    wconn.execute("INSERT INTO zones (plan_id, code, label, geom) VALUES (%s, 'E', 'Équipements', "
                  "ST_Multi(ST_GeomFromText(%s, 26191)))", (plan_id, box(50, 0, 30, 1000).wkt))
    wconn.commit()
    for day in (date(2015, 1, 1), date(2023, 1, 1)):
        summary, text = bulk_instruct(wconn, "ANFA", day)
        counts, expected = _reference(wconn, "ANFA", day)
        assert (_counts(summary), text) == (counts, expected)
        assert summary["straddling"] > 90
    assert summary["conflicts"] and summary["plans"] == ["PA-T-2020", "PA-X-2022"]


def test_csv_fields_are_quoted_as_csv_writer_quotes_them():
    import csv
    import io

    from instruction.bulk import _csv_field

    for value in ("ZAE", "Zone A, secteur A2", 'dit "le Parc"', "deux\nlignes", "", " espace "):
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerow([value, "x"])
        assert out.getvalue() == f"{_csv_field(value)},x\n"
