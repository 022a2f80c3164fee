"""Plan impact (issue 15): per-parcel answers worked out by hand on the small territory, counts and areas on the
sample territory equal to direct SQL written here independently, exports read back with GDAL, refusals that write
nothing, and the published run."""

from __future__ import annotations

import json

import psycopg
import pyogrio
import pytest
import shapely
from click.testing import CliRunner

from app import cli
from gis.errors import InputError, NotFound
from instruction.envelope import _floor_area, _height
from instruction.impact import plan_impact, zone_variants
from instruction.rules import Context, zone_rules
from layers.impact import impact_export
from tests import instruction_world as world
from tests.helpers import box

FROM, TO = "PA-ANFA-2006", "PA-ANFA-2026"  # the sample's first arrondissement and its revision in public inquiry
DEDUCTED = ("road_widening", "new_road", "facility_reservation", "green_space", "non_aedificandi")


# --------------------------------------------------------------------------- the hand-built territory
def _parcel(conn, number: int, geom) -> None:
    conn.execute("INSERT INTO parcels (ref_kind, ref_number, ref_suffix, commune_code, geom) VALUES ('TF', %s, 'T', "
                 "'ANFA', ST_Multi(ST_GeomFromText(%s, 26191)))", (number, geom.wkt))


@pytest.fixture
def wconn(conn):
    """tests/instruction_world.py (PA-T-2006 → PA-T-2020: C becomes B from x = 300) plus, in PA-T-2020 only:
    a new road over the top 30 m of TF 10, a school reserved on the east 20 m of TF 11, a reservation of
    x 100–110 × y 0–20 over TF 2 (whose y 0–5 strip is already a widening in both plans), and in zone D
    « R+1 on plots under 1,500 m² »; TF 12 (1,200 m²) and TF 13 (exactly 1,500 m²) in zone D."""
    world.build(conn)
    to_id = conn.execute("SELECT id FROM plans WHERE code = 'PA-T-2020'").fetchone()[0]
    for kind, geom in (("new_road", box(0, 210, 60, 30)), ("facility_reservation", box(140, 200, 20, 40)),
                       ("facility_reservation", box(100, 0, 10, 20))):
        conn.execute("INSERT INTO prescriptions (plan_id, kind, label, geom) VALUES (%s, %s, 'nouveau', "
                     "ST_GeomFromText(%s, 26191))", (to_id, kind, geom.wkt))
    conn.execute("UPDATE zones SET conditional_rules = %s::jsonb WHERE plan_id = %s AND code = 'D'",
                 (json.dumps([{"parameter": "storeys_max", "value": 1, "when": {"plot_area_lt_m2": 1500},
                               "article": "art. 7"}]), to_id))
    _parcel(conn, 12, box(100, 500, 30, 40))
    _parcel(conn, 13, box(150, 500, 30, 50))
    conn.commit()
    return conn


def _rows(conn, run_id: int) -> dict[str, dict]:
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        rows = cur.execute("SELECT p.land_ref, i.* FROM impact_parcels i JOIN parcels p ON p.id = i.parcel_id "
                           "WHERE run_id = %s", (run_id,)).fetchall()
    return {r["land_ref"]: r for r in rows}


def test_hand_worked_parcels(wconn):
    result = plan_impact(wconn, "PA-T-2006", "PA-T-2020")
    wconn.commit()
    rows = _rows(wconn, result["run_id"])
    # TF 5 (x 1500) and TF 6 are outside both plans: no row; the 11 others are in
    assert sorted(rows) == sorted(f"TF {n}/T" for n in (1, 2, 3, 4, 7, 8, 9, 10, 11, 12, 13))
    assert result["parcels"] == 11 and result["totals"]["parcels"] == 11

    # TF 1 (2,000 m²) split: V2 x 44–60 (800 m²), D x 60–84 (1,200 m²), the same in both plans.
    # V2: footprint min(800, 40 % × 800 = 320) = 320; floor min(COS 0.8 × 800 = 640, 320 × 3 levels) = 640.
    # D: footprint min(1,200, 70 % = 840); floor min(CUS 2.8 × 1,200 = 3,360, 840 × 5 = 4,200) = 3,360.
    tf1 = rows["TF 1/T"]
    assert (tf1["zone_before"], tf1["zones_before"], tf1["zones_after"]) == ("D", 2, 2)
    assert tf1["floor_before_m2"] == pytest.approx(4000) and tf1["floor_delta_m2"] == pytest.approx(0)
    assert tf1["change"] == "unchanged"

    # TF 2 (1,200 m², D): widening y 0–5 (150 m²) in both plans; PA-T-2020 adds x 100–110 × y 0–20 (200 m²), of
    # which 50 m² are in the widening: 150 m² newly reserved (12.5 %: not marginal → "reserved").
    # Before: net 1,050, footprint min(1,050, 840) = 840, floor min(3,360, 840 × 5 = 4,200) = 3,360.
    # After: plot under 1,500 m² → R+1 (2 levels): floor min(3,360, 840 × 2 = 1,680) = 1,680 (net 900 > 840).
    tf2 = rows["TF 2/T"]
    assert tf2["reserved_new_m2"] == pytest.approx(150) and tf2["widening_new_m2"] == 0
    assert tf2["floor_before_m2"] == pytest.approx(3360) and tf2["floor_after_m2"] == pytest.approx(1680)
    assert tf2["change"] == "reserved"

    # TF 3: D 1,975 m², and a 0.5 m sliver of C (25 m², 1.25 %: marginal, not a part). Floor min(2.8 × 1,975 =
    # 5,530, 70 % × 1,975 × 5 = 6,912.5) = 5,530 in both plans.
    tf3 = rows["TF 3/T"]
    assert (tf3["zone_before"], tf3["zones_before"]) == ("D", 1)
    assert tf3["floor_before_m2"] == pytest.approx(5530) and tf3["floor_after_m2"] == pytest.approx(5530)

    # TF 4 (2,000 m²): C → B. C: no COS/CUS, footprint 75 % = 1,500, R+6 (its « R+5 on roads under 20 m » needs
    # the road: not applied in bulk) → 1,500 × 7 = 10,500. B: 80 % = 1,600 × 9 levels = 14,400. Gain 3,900.
    tf4 = rows["TF 4/T"]
    assert (tf4["zone_before"], tf4["zone_after"], tf4["change"]) == ("C", "B", "gain")
    assert tf4["floor_before_m2"] == pytest.approx(10500) and tf4["floor_after_m2"] == pytest.approx(14400)
    assert tf4["uses_gained"] == ["bureaux"] and tf4["uses_lost"] == ["commerce de proximité"]

    # TF 10 (1,200 m², V2): the new road takes y 210–240 × x 5–35 = 900 m² (newly in a widening). Net 300:
    # footprint min(300, 480) = 300, floor min(0.8 × 1,200 = 960, 300 × 3 = 900) = 900 (was 960).
    tf10 = rows["TF 10/T"]
    assert tf10["widening_new_m2"] == pytest.approx(900) and tf10["reserved_new_m2"] == 0
    assert tf10["floor_before_m2"] == pytest.approx(960) and tf10["floor_after_m2"] == pytest.approx(900)
    assert tf10["change"] == "reserved" and tf10["buildable_after"] is True

    # TF 11 (2,400 m², D): 800 m² newly reserved; the CUS binds before and after (2.8 × 2,400 = 6,720 < footprint
    # min(1,600, 1,680) × 5): no floor area lost, yet the owner loses 800 m² of land.
    tf11 = rows["TF 11/T"]
    assert tf11["reserved_new_m2"] == pytest.approx(800) and tf11["floor_delta_m2"] == pytest.approx(0)
    assert tf11["change"] == "reserved"

    # TF 12 (1,200 m² < 1,500): R+1 in D after → floor min(3,360, 840 × 2) = 1,680: a loss of 1,680.
    # TF 13 (exactly 1,500 m²: « under 1,500 » does not hold) keeps min(2.8 × 1,500 = 4,200, 1,050 × 5) = 4,200.
    assert rows["TF 12/T"]["floor_delta_m2"] == pytest.approx(-1680) and rows["TF 12/T"]["change"] == "loss"
    assert rows["TF 13/T"]["floor_after_m2"] == pytest.approx(4200) and rows["TF 13/T"]["change"] == "unchanged"

    # the same rule as the envelope's (instruction/envelope.py _floor_area) for TF 12 after
    d_after = wconn.execute("SELECT z.* FROM zones z JOIN plans p ON p.id = z.plan_id WHERE p.code = 'PA-T-2020' "
                            "AND z.code = 'D'", ).fetchone()
    names = [c.name for c in wconn.execute("SELECT * FROM zones LIMIT 0").description]
    rule = zone_rules(dict(zip(names, d_after, strict=True)), Context(road_width_m=None, plot_area_m2=1200))
    levels = _height(rule, 3.0)["levels"]
    floor = _floor_area(rule, 1200, min(1200, 0.7 * 1200), levels)[0]
    assert levels == 2 and floor == pytest.approx(rows["TF 12/T"]["floor_after_m2"])

    # aggregates from the rows
    t = result["totals"]
    assert t["zone_changed"] == 4  # TF 4, 7, 8, 9: C → B
    assert t["floor_lost_m2"] == pytest.approx(1680 + 1680 + 60)  # TF 2, TF 12, TF 10
    assert t["reserved_new_m2"] == pytest.approx(950) and t["widening_new_m2"] == pytest.approx(900)
    # by zone before: TF 1 counts in D (1,200 m²) rather than V2 (800 m²)
    assert {z["zone"]: z["parcels"] for z in result["by_zone"]} == {"C": 4, "D": 6, "V2": 1}
    assert result["by_area"][0]["code"] == "ANFA" and result["by_area"][0]["parcels"] == 11
    assert {(c["from_zone"], c["to_zone"]): c["parcels"] for c in result["zone_changes"]} == {("C", "B"): 4}
    assert any(c["zone"] == "C" and c["parameter"] == "storeys_max" for c in result["provenance"]["conditions_not_applied"])


def test_zone_variants_split_on_plot_area_bands():
    zone = {"id": 1, "storeys_max": 4, "footprint_max_pct": 70, "cus_value": 2.8, "cus_meaning": "plancher",
            "conditional_rules": [{"parameter": "storeys_max", "value": 1, "when": {"plot_area_lt_m2": 1500}},
                                  {"parameter": "storeys_max", "value": 6, "when": {"plot_area_min_m2": 3000}}]}
    bands = [(lo, lo_in, hi, hi_in, params[0]) for lo, lo_in, hi, hi_in, params in zone_variants(zone)]
    assert bands == [(-float("inf"), False, 1500.0, False, 2.0), (1500.0, True, 3000.0, False, 5.0),
                     (3000.0, True, float("inf"), False, 7.0)]  # levels: R+n is n + 1


def test_cli_writes_the_csv_and_says_what_changed(wconn, db_url, monkeypatch, tmp_path):
    monkeypatch.setenv("URBASIG_DATABASE_URL", db_url)
    out = tmp_path / "impact.csv"
    done = CliRunner().invoke(cli, ["impact", "--from", "PA-T-2006", "--to", "PA-T-2020", "--area", "Anfa",
                                    "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert "11 parcelles, 4 changent de zone" in done.output and "[100 %]" in done.output
    frame = pyogrio.read_dataframe(out, GEOM_POSSIBLE_NAMES="wkt", KEEP_GEOM_COLUMNS="NO")
    assert len(frame) == 11 and set(frame["change"]) == {"gain", "loss", "reserved", "unchanged"}
    refused = CliRunner().invoke(cli, ["impact", "--from", "PA-T-2006", "--to", "SDAU-T"])
    assert refused.exit_code == 2 and "plans réglementaires" in refused.output


# --------------------------------------------------------------------------- the sample territory
@pytest.fixture(scope="module")
def sample_run(sample_url):
    """One run on the shared sample, inside a transaction rolled back at the end (the sample is read by others)."""
    with psycopg.connect(sample_url) as conn:
        conn.execute("SELECT 1")  # the run is then a savepoint of this transaction
        result = plan_impact(conn, FROM, TO)
        yield conn, result
        conn.rollback()


def _ids(conn) -> tuple[int, int]:
    f, t = (conn.execute("SELECT id FROM plans WHERE code = %s", (code,)).fetchone()[0] for code in (FROM, TO))
    return f, t


def test_sample_zone_changes_equal_direct_sql(sample_run):
    conn, result = sample_run
    f, t = _ids(conn)
    # direct: every intersection computed (no covered-by shortcut), parts under 3 % and 50 m² are slivers
    direct = conn.execute("""
        WITH parts AS (SELECT p.id, z.plan_id, z.code, ST_Area(ST_Intersection(p.geom, z.geom)) AS a, p.area_m2 AS pa
                       FROM parcels p JOIN zones z ON z.plan_id IN (%(f)s, %(t)s) AND ST_Intersects(p.geom, z.geom)),
             main AS (SELECT DISTINCT ON (id, plan_id) id, plan_id, code FROM parts
                      WHERE a > 0.005 AND NOT (100 * a / pa < 3 AND a < 50) ORDER BY id, plan_id, a DESC)
        SELECT id, max(code) FILTER (WHERE plan_id = %(f)s), max(code) FILTER (WHERE plan_id = %(t)s)
        FROM main GROUP BY id""", {"f": f, "t": t}).fetchall()
    ours = conn.execute("SELECT parcel_id, zone_before, zone_after FROM impact_parcels WHERE run_id = %s",
                        (result["run_id"],)).fetchall()
    assert sorted(ours) == sorted(direct) and len(ours) > 1000
    changed = sum(1 for _, b, a in direct if b != a)
    assert result["totals"]["zone_changed"] == changed and changed > 50
    assert result["totals"]["parcels"] == len(direct) == result["parcels"]


def test_sample_newly_reserved_equal_direct_sql(sample_run):
    conn, result = sample_run
    f, t = _ids(conn)
    # direct: each plan's deductions united over the whole plan, then cut by every parcel
    rows = conn.execute("""
        WITH u AS (SELECT plan_id, ST_Union(geom) AS g FROM prescriptions WHERE plan_id IN (%(f)s, %(t)s)
                   AND kind = ANY(%(kinds)s) GROUP BY plan_id),
             roads AS (SELECT ST_Union(geom) AS g FROM prescriptions WHERE plan_id = %(t)s
                       AND kind IN ('road_widening', 'new_road')),
             fresh AS (SELECT ST_Difference(ut.g, uf.g) AS g, ST_Difference(roads.g, uf.g) AS road
                       FROM u ut, u uf, roads WHERE ut.plan_id = %(t)s AND uf.plan_id = %(f)s)
        SELECT p.id, ST_Area(ST_Intersection(p.geom, fresh.g)), ST_Area(ST_Intersection(p.geom, fresh.road))
        FROM parcels p, fresh WHERE ST_Intersects(p.geom, fresh.g)""", {"f": f, "t": t, "kinds": list(DEDUCTED)})
    direct = {r[0]: (r[1], r[2]) for r in rows if r[1] > 0.01}
    ours = {r[0]: (r[1] + r[2], r[2]) for r in conn.execute(
        "SELECT parcel_id, reserved_new_m2, widening_new_m2 FROM impact_parcels WHERE run_id = %s "
        "AND reserved_new_m2 + widening_new_m2 > 0", (result["run_id"],))}
    assert set(ours) == set(direct) and len(ours) > 20
    for pid, (total, road) in direct.items():
        assert ours[pid][0] == pytest.approx(total, abs=0.02), pid
        assert ours[pid][1] == pytest.approx(road, abs=0.02), pid
    assert result["totals"]["reserved_new_m2"] + result["totals"]["widening_new_m2"] == pytest.approx(
        sum(v[0] for v in direct.values()), abs=0.1)


def test_sample_floor_deltas_follow_the_zone_rules(sample_run):
    conn, result = sample_run
    # data/sources.py, on parcels with no deduction in either plan (net = area A):
    #   V1 (min 800 m²): min(COS 0.5 A, 25 % A × 2 levels) = 0.5 A;  V2 (min 300): min(0.8 A, 40 % A × 3) = 0.8 A;
    #   D (min 200): min(CUS 2.8 A, 70 % A × 5) = 2.8 A;  ZV: no footprint → not buildable, 0.
    rules = {"V1": (0.5, 800), "V2": (0.8, 300), "D": (2.8, 200), "ZV": (0.0, 0)}
    rows = conn.execute("""
        SELECT i.zone_before, i.zone_after, p.area_m2, i.floor_before_m2, i.floor_after_m2, i.buildable_after
        FROM impact_parcels i JOIN parcels p ON p.id = i.parcel_id
        WHERE i.run_id = %s AND i.zone_before <> i.zone_after AND NOT EXISTS (
            SELECT 1 FROM prescriptions r JOIN plans pl ON pl.id = r.plan_id WHERE pl.code IN (%s, %s)
            AND r.kind = ANY(%s) AND ST_Intersects(r.geom, p.geom))""", (result["run_id"], FROM, TO, list(DEDUCTED))
                        ).fetchall()
    checked = 0
    for before, after, area, floor_b, floor_a, buildable_a in rows:
        if before not in rules or after not in rules:
            continue
        for zone, floor in ((before, floor_b), (after, floor_a)):
            ratio, min_area = rules[zone]
            assert floor == pytest.approx(ratio * area if area >= min_area else 0.0, abs=0.01), (zone, area)
        assert buildable_a is (after != "ZV" and area >= rules[after][1])
        checked += 1
    assert checked > 50


def test_sample_run_is_stored_and_published(sample_run):
    conn, result = sample_run
    run = conn.execute("SELECT status, published, parcels, summary->'totals'->>'parcels' FROM impact_runs WHERE id = %s",
                       (result["run_id"],)).fetchone()
    assert run == ("done", True, result["parcels"], str(result["parcels"]))
    assert conn.execute("SELECT count(*) FROM plan_impact WHERE run_id = %s", (result["run_id"],)).fetchone()[0] == \
        result["parcels"]
    prov = result["provenance"]
    assert prov["from_plan"]["status"] == "homologue" and prov["to_plan"]["status"] == "enquete_publique"
    assert "setbacks are per land" in prov["method"] and prov["code_version"] and prov["thresholds"]["version"]
    assert sum(a["parcels"] for a in result["by_area"]) == sum(z["parcels"] for z in result["by_zone"]) == \
        result["parcels"]
    # a second run of the pair becomes the published one, in the same transaction as the first is withdrawn
    with conn.transaction(force_rollback=True):
        again = plan_impact(conn, FROM, TO, area="ANFA")
        published = conn.execute("SELECT array_agg(r.id) FROM impact_runs r JOIN plans p ON p.id = r.from_plan_id "
                                 "WHERE r.published AND p.code = %s", (FROM,)).fetchone()[0]
        assert published == [again["run_id"]]
        assert conn.execute("SELECT array_agg(DISTINCT run_id) FROM plan_impact WHERE from_plan = %s",
                            (FROM,)).fetchone()[0] == [again["run_id"]]


@pytest.mark.parametrize("fmt", ["json", "csv", "gpkg"])
def test_sample_exports_read_back_with_gdal(sample_run, fmt, tmp_path):
    conn, result = sample_run
    path = tmp_path / f"impact.{fmt}"
    path.write_bytes(impact_export(conn, result["run_id"], fmt))
    options = {"GEOM_POSSIBLE_NAMES": "wkt", "KEEP_GEOM_COLUMNS": "NO"} if fmt == "csv" else {}
    frame = pyogrio.read_dataframe(path, **options)
    assert len(frame) == result["parcels"]
    srid = 4326 if fmt == "json" else 26191
    expected = dict(conn.execute("SELECT p.id, ST_AsBinary(ST_Transform(p.geom, %s)) FROM impact_parcels i JOIN parcels "
                                 "p ON p.id = i.parcel_id WHERE i.run_id = %s", (srid, result["run_id"])).fetchall())
    tolerance = 1e-7 if fmt == "json" else 1e-3
    for pid, geom in zip(frame["parcel_id"], frame.geometry, strict=True):
        assert shapely.equals_exact(shapely.normalize(geom), shapely.normalize(shapely.from_wkb(expected[int(pid)])),
                                    tolerance), pid
    assert "owner" not in " ".join(frame.columns) and "full_name" not in frame.columns
    by_change = frame["change"].value_counts().to_dict()
    assert by_change.get("reserved", 0) == result["totals"]["reserved"]


def _runs(conn) -> int:
    return conn.execute("SELECT count(*) FROM impact_runs").fetchone()[0] + conn.execute(
        "SELECT count(*) FROM impact_parcels").fetchone()[0]


@pytest.mark.parametrize(("args", "error", "words"), [
    (("PA-INCONNU", TO, None), NotFound, "plan de départ inconnu"),
    ((FROM, "SDAU-GC-2010", None), InputError, "plans réglementaires"),
    ((FROM, FROM, None), InputError, "lui-même"),
    ((FROM, "PA-MAARIF-2008", None), InputError, "ne se recouvrent pas"),
    ((FROM, TO, "NULLE-PART"), NotFound, "commune inconnue"),
    ((FROM, TO, "MAARIF"), InputError, "n'est pas couverte"),
])
def test_bad_inputs_are_refused_in_french_with_nothing_written(sample_run, args, error, words):
    conn, _ = sample_run
    before = _runs(conn)
    with pytest.raises(error) as caught:
        plan_impact(conn, *args)
    assert words in caught.value.message
    assert _runs(conn) == before


def test_a_run_failing_midway_leaves_nothing(sample_run):
    conn, _ = sample_run  # the same connection: a second one would wait on the pair's lock the module run holds
    before = _runs(conn)

    def fail(pct: int, message: str) -> None:
        if pct >= 92:  # after the parcels are written, before the aggregates
            raise RuntimeError("arrêt simulé")

    with pytest.raises(RuntimeError):
        plan_impact(conn, FROM, TO, progress=fail)
    assert _runs(conn) == before  # the run's savepoint was rolled back, the transaction goes on


def test_rows_keep_their_references_without_foreign_keys(wconn):
    """impact_parcels' run and parcel are kept by statement triggers (migration 0020): a row naming a missing run or
    parcel is refused, deleting a parcel or a run deletes its rows, a referenced parcel id cannot change."""
    result = plan_impact(wconn, "PA-T-2006", "PA-T-2020")
    wconn.commit()
    run_id = result["run_id"]
    some = wconn.execute("SELECT parcel_id FROM impact_parcels WHERE run_id = %s ORDER BY parcel_id LIMIT 1",
                         (run_id,)).fetchone()[0]
    for bad_run, bad_parcel in ((run_id + 1000, some), (run_id, -1)):
        with pytest.raises(psycopg.errors.ForeignKeyViolation), wconn.transaction():
            wconn.execute("INSERT INTO impact_parcels (run_id, parcel_id, change) VALUES (%s, %s, 'unchanged')",
                          (bad_run, bad_parcel))
    with pytest.raises(psycopg.errors.ForeignKeyViolation), wconn.transaction():
        wconn.execute("UPDATE parcels SET id = -id WHERE id = %s", (some,))
    wconn.execute("DELETE FROM parcels WHERE id = %s", (some,))
    assert wconn.execute("SELECT count(*) FROM impact_parcels WHERE parcel_id = %s", (some,)).fetchone()[0] == 0
    assert wconn.execute("SELECT count(*) FROM impact_parcels WHERE run_id = %s", (run_id,)).fetchone()[0] == 10
    wconn.execute("DELETE FROM impact_runs WHERE id = %s", (run_id,))
    assert wconn.execute("SELECT count(*) FROM impact_parcels WHERE run_id = %s", (run_id,)).fetchone()[0] == 0
    wconn.rollback()


# --------------------------------------------------------------------------- review findings (C2–C5)
def test_the_envelope_settings_apply_and_are_recorded(wconn, db_url, monkeypatch):
    """URBASIG_ENVELOPE_STOREY_HEIGHT_M = 4 and URBASIG_ENVELOPE_RATIO_AREA = net, as the single envelope reads them.
    TF 4 (2,000 m², no deduction): C before: 75 % = 1,500 m² × min(R+6 → 7, ⌊23.5 ÷ 4⌋ = 5) = 7,500 (10,500 at
    3 m); B after: 80 % = 1,600 × min(9, ⌊30 ÷ 4⌋ = 7) = 11,200. TF 10 (1,200 m², V2) after the new road: net 300,
    ratios on the net area: footprint min(300, 40 % × 300 = 120) = 120, floor min(COS 0.8 × 300 = 240, 120 ×
    min(3, ⌊11.5 ÷ 4⌋ = 2)) = 240 (900 on the gross area); before, no deduction: min(960, 480 × 2) = 960."""
    monkeypatch.setenv("URBASIG_DATABASE_URL", db_url)
    monkeypatch.setenv("URBASIG_ENVELOPE_STOREY_HEIGHT_M", "4")
    monkeypatch.setenv("URBASIG_ENVELOPE_RATIO_AREA", "net")
    done = CliRunner().invoke(cli, ["impact", "--from", "PA-T-2006", "--to", "PA-T-2020", "--no-publish"])
    assert done.exit_code == 0, done.output
    run_id, prov = wconn.execute("SELECT id, provenance FROM impact_runs ORDER BY id DESC LIMIT 1").fetchone()
    assert (prov["thresholds"]["storey_height_m"], prov["thresholds"]["ratio_area"]) == (4.0, "net")
    rows = _rows(wconn, run_id)
    assert rows["TF 4/T"]["floor_before_m2"] == pytest.approx(7500)
    assert rows["TF 4/T"]["floor_after_m2"] == pytest.approx(11200)
    assert rows["TF 10/T"]["floor_before_m2"] == pytest.approx(960)
    assert rows["TF 10/T"]["floor_after_m2"] == pytest.approx(240)


def test_formula_rules_are_listed_as_not_applied(wconn):
    """H ≤ L + R needs the road each land fronts: in bulk it is left out, and said so."""
    wconn.execute("UPDATE zones z SET conditional_rules = %s::jsonb FROM plans p WHERE p.id = z.plan_id AND "
                  "p.code = 'PA-T-2020' AND z.code = 'B'",
                  (json.dumps([{"parameter": "height_max_m", "formula": "road_width_plus_setback", "article": "art. 9"}]),))
    result = plan_impact(wconn, "PA-T-2006", "PA-T-2020", publish=False)
    left = [c for c in result["provenance"]["conditions_not_applied"] if c["zone"] == "B"]
    assert left == [{"plan": "PA-T-2020", "zone": "B", "parameter": "height_max_m", "value": None, "when": {},
                     "article": "art. 9", "applied": "valeur de base (largeur de voie inconnue en masse)",
                     "formula": "road_width_plus_setback"}]
    wconn.rollback()


def test_the_provenance_dates_the_data_read(wconn):
    """The layers' versions (layer_versions) and the latest change: a zone edited makes the next run's differ."""
    first = plan_impact(wconn, "PA-T-2006", "PA-T-2020", publish=False)["provenance"]
    wconn.commit()
    assert set(first["layer_versions"]) >= {"parcels", "zones", "prescriptions", "plans"}
    assert first["data_timestamp"] == max(wconn.execute(
        "SELECT to_char(changed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM layer_versions "
        "WHERE layer = ANY(%s)", (list(first["layer_versions"]),)).fetchall())[0]
    wconn.execute("UPDATE zones SET label = label || ' (modifié)' WHERE code = 'B'")
    wconn.commit()
    second = plan_impact(wconn, "PA-T-2006", "PA-T-2020", publish=False)["provenance"]
    assert second["layer_versions"]["zones"] == first["layer_versions"]["zones"] + 1
    assert second["data_timestamp"] > first["data_timestamp"]
    wconn.rollback()


def test_a_parcel_in_one_plan_only_is_outside_not_unchanged(wconn):
    """PA-T-2020 also covers x 1000–1200 (zone B), where PA-T-2006 has nothing: TF 14 there is « outside » (no
    before to compare with), counted apart, its zone before « hors du plan » in the aggregates."""
    to_id = wconn.execute("SELECT id FROM plans WHERE code = 'PA-T-2020'").fetchone()[0]
    wconn.execute("UPDATE plans SET perimeter = ST_Multi(ST_GeomFromText(%s, 26191)) WHERE id = %s",
                  (box(0, 0, 1200, 1000).wkt, to_id))
    world._zone(wconn, to_id, world.B, box(1000, 0, 200, 1000))
    _parcel(wconn, 14, box(1100, 500, 30, 40))
    result = plan_impact(wconn, "PA-T-2006", "PA-T-2020", publish=False)
    tf14 = _rows(wconn, result["run_id"])["TF 14/T"]
    assert (tf14["zone_before"], tf14["zone_after"], tf14["change"]) == (None, "B", "outside")
    assert tf14["floor_before_m2"] is None and tf14["floor_after_m2"] == pytest.approx(0.8 * 1200 * 9)
    assert result["totals"]["outside"] == result["totals"]["outside_one_plan"] == 1
    assert result["totals"]["unchanged"] == 3  # TF 1, TF 3 and TF 13, as before
    assert {z["zone_label"]: z["parcels"] for z in result["by_zone"]}["hors du plan"] == 1
    assert {(c["from_label"], c["to_label"]): c["parcels"] for c in result["zone_changes"]}[("hors du plan", "B")] == 1
    wconn.rollback()


def test_a_split_parcel_builds_through_its_parts_that_can_as_the_envelope_says(wconn):
    """PA-T-2020 sets a 2,500 m² minimum plot in V2: TF 1 (2,000 m², V2 800 m² + D 1,200 m²) no longer builds on
    its V2 part, but still does on its D part — the parcel stays buildable, its floor area the D part's alone:
    min(CUS 2.8 × 1,200 = 3,360, 840 × 5) = 3,360 (4,000 before: a loss of 640). The envelope of the same land on
    the same plan says the same: buildable, the V2 part not (partie_non_constructible)."""
    from instruction.envelope import envelope
    from instruction.land import LandRequest

    wconn.execute("UPDATE zones z SET min_plot_area_m2 = 2500 FROM plans p WHERE p.id = z.plan_id AND "
                  "p.code = 'PA-T-2020' AND z.code = 'V2'")
    result = plan_impact(wconn, "PA-T-2006", "PA-T-2020", publish=False)
    tf1 = _rows(wconn, result["run_id"])["TF 1/T"]
    assert (tf1["buildable_before"], tf1["buildable_after"]) == (True, True)
    assert tf1["floor_before_m2"] == pytest.approx(4000) and tf1["floor_after_m2"] == pytest.approx(3360)
    assert tf1["change"] == "loss"
    env = envelope(wconn, LandRequest(refs=("TF 1/T",)))  # today: PA-T-2020 in force
    parts = {p["zone"]["code"]: p for p in env["parts"]}
    assert env["buildable"] and parts["D"]["buildable"] and not parts["V2"]["buildable"]
    assert "partie_non_constructible" in {r["code"] for r in env["reasons"]}
    wconn.rollback()


def test_a_parcel_delete_waits_for_a_run_being_written(wconn, db_url):
    """The insert trigger holds the advisory lock shared (migration 0023, no row lock per parcel): deleting a parcel
    while a run writing it is open waits (here: gives up at its lock timeout), and once the run is committed the
    delete goes through and takes the run's row of that parcel with it, leaving no row without its parcel."""
    result = plan_impact(wconn, "PA-T-2006", "PA-T-2020", publish=False)  # written, not committed
    some = wconn.execute("SELECT parcel_id FROM impact_parcels WHERE run_id = %s ORDER BY parcel_id LIMIT 1",
                         (result["run_id"],)).fetchone()[0]
    with psycopg.connect(db_url) as other:
        other.execute("SET lock_timeout = '300ms'")
        with pytest.raises(psycopg.errors.LockNotAvailable):
            other.execute("DELETE FROM parcels WHERE id = %s", (some,))
        other.rollback()
        wconn.commit()
        other.execute("DELETE FROM parcels WHERE id = %s", (some,))
        other.commit()
    assert wconn.execute("SELECT count(*) FROM impact_parcels WHERE parcel_id = %s", (some,)).fetchone()[0] == 0
    assert wconn.execute("SELECT count(*) FROM impact_parcels WHERE run_id = %s",
                         (result["run_id"],)).fetchone()[0] == result["parcels"] - 1


def test_sample_aggregates_equal_direct_sql_over_the_stored_rows(sample_run):
    """The summary is tallied from the computed columns (instruction/impact_rows.py aggregates): it equals SQL over
    the rows written to impact_parcels."""
    conn, result = sample_run
    metrics = """count(*), count(*) FILTER (WHERE zone_before IS DISTINCT FROM zone_after),
        count(*) FILTER (WHERE GREATEST(zones_before, zones_after) > 1), count(*) FILTER (WHERE change = 'gain'),
        count(*) FILTER (WHERE change = 'loss'), count(*) FILTER (WHERE change = 'reserved'),
        count(*) FILTER (WHERE change = 'unchanged'), count(*) FILTER (WHERE change = 'outside'),
        COALESCE(sum(floor_delta_m2) FILTER (WHERE floor_delta_m2 > 0), 0),
        COALESCE(-sum(floor_delta_m2) FILTER (WHERE floor_delta_m2 < 0), 0), COALESCE(sum(floor_before_m2), 0),
        COALESCE(sum(floor_after_m2), 0), sum(reserved_new_m2), sum(widening_new_m2),
        count(*) FILTER (WHERE reserved_new_m2 + widening_new_m2 > 0),
        count(*) FILTER (WHERE buildable_before AND NOT buildable_after),
        count(*) FILTER (WHERE NOT buildable_before AND buildable_after),
        count(*) FILTER (WHERE zone_before IS NULL OR zone_after IS NULL)"""
    names = ("parcels", "zone_changed", "split", "gain", "loss", "reserved", "unchanged", "outside", "floor_gained_m2",
             "floor_lost_m2", "floor_before_m2", "floor_after_m2", "reserved_new_m2", "widening_new_m2",
             "with_new_reservation", "no_longer_buildable", "newly_buildable", "outside_one_plan")

    def same(ours: dict, row: tuple) -> None:
        for name, value in zip(names, row, strict=True):
            assert ours[name] == pytest.approx(value, abs=0.01), name

    same(result["totals"], conn.execute(f"SELECT {metrics} FROM impact_parcels WHERE run_id = %s",
                                        (result["run_id"],)).fetchone())
    by_zone = conn.execute(f"SELECT zone_before, {metrics} FROM impact_parcels WHERE run_id = %s GROUP BY 1 "
                           "ORDER BY 1 NULLS LAST", (result["run_id"],)).fetchall()
    assert [z["zone"] for z in result["by_zone"]] == [r[0] for r in by_zone] and len(by_zone) > 3
    for ours, row in zip(result["by_zone"], by_zone, strict=True):
        same(ours, row[1:])
    changes = conn.execute("SELECT zone_before, zone_after, count(*) FROM impact_parcels WHERE run_id = %s AND "
                           "zone_before IS DISTINCT FROM zone_after GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2",
                           (result["run_id"],)).fetchall()
    assert [(c["from_zone"], c["to_zone"], c["parcels"]) for c in result["zone_changes"]] == [tuple(r) for r in changes]
    assert [(a["code"], a["name"], a["parcels"]) for a in result["by_area"]] == [tuple(r) for r in conn.execute(
        "SELECT i.commune_code, c.name, count(*) FROM impact_parcels i LEFT JOIN communes c ON c.code = i.commune_code "
        "WHERE run_id = %s GROUP BY 1, 2 ORDER BY 1", (result["run_id"],))]
