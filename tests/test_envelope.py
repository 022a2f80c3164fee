"""The buildable envelope on the hand-built territory (tests/envelope_world.py): instruct → envelope, each answer
worked out by hand in the comments (x, y are metres from X0, Y0; road, side and rear setbacks written r, s, b)."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import jsonschema
import pytest
import shapely
from click.testing import CliRunner
from shapely.geometry import shape

from app import cli, create_app
from instruction.engine import Options, instruct_with_sources
from instruction.envelope import envelope, envelope_from, envelope_of
from instruction.land import LandRequest
from tests import envelope_world as world
from tests.helpers import X0, Y0, app_settings, box

SCHEMA = json.loads((Path(__file__).resolve().parent.parent / "instruction" / "schema" /
                     "envelope.schema.json").read_text(encoding="utf-8"))


@pytest.fixture
def wconn(conn):
    world.build(conn)
    return conn


def _env(conn, ref: str, **options) -> dict:
    out = envelope(conn, LandRequest(refs=(ref,)), world.DAY, Options(**options))
    jsonschema.validate(json.loads(json.dumps(out)), SCHEMA)  # every real output, against the schema
    return out


def _same(geojson: dict, expected: shapely.Geometry) -> bool:
    """The polygon is the expected one, vertex for vertex (to the millimetre), whatever its start and orientation."""
    return shapely.normalize(shape(geojson)).equals_exact(shapely.normalize(expected), 1e-3)


def _codes(reasons: list[dict]) -> set[str]:
    return {r["code"] for r in reasons}


def test_20_by_30_land_on_one_road(wconn):
    # TF 201: x 10–30, y 0–30 on Rue principale (its south limit), zone VA (r 4, s 3, b 3, 60 %, COS 1.2, R+2).
    # buildable: x 13–27 (20 − 3 − 3 = 14), y 4–27 (30 − 4 − 3 = 23) → 14 × 23 = 322 m²
    # footprint: min(322, 60 % × 600 = 360) = 322 (the buildable area binds)
    # floor area: min(COS 1.2 × 600 = 720, 322 × 3 levels (R+2) = 966) = 720 (the COS binds)
    out = _env(wconn, "TF 201/E")
    (part,) = out["parts"]
    assert out["buildable"] and out["limits"] == {"road_m": 20.0, "side_m": 60.0, "rear_m": 20.0, "ambiguous_m": 0.0,
                                                  "corner": False, "roads": ["Rue principale"]}
    assert _same(part["geometry"], box(13, 4, 14, 23))
    assert (part["buildable_area_m2"], part["pieces"]) == (322.0, 1)
    assert (part["footprint"]["max_m2"], part["footprint"]["binding"]) == (322.0, "buildable_area")
    assert (part["height"]["max_m"], part["height"]["storeys_max"], part["height"]["levels"]) == (11.5, 2, 3)
    assert (part["floor_area"]["max_m2"], part["floor_area"]["binding"]) == (720.0, "cos")
    assert part["floor_area"]["candidates"] == {"cos": 720.0, "footprint_x_levels": 966.0}
    assert out["totals"] == {"land_area_m2": 600.0, "buildable_area_m2": 322.0, "max_footprint_m2": 322.0,
                             "max_floor_area_m2": 720.0}
    assert out["provenance"]["plans_used"] == ["PA-E"] and out["provenance"]["code_version"]
    assert out["context"] == {"road_width_m": 20.0, "road_width_source": "existing", "plot_area_m2": 600.0}


def test_narrow_land_where_footprint_times_levels_binds(wconn):
    # TF 202: x 40–52, y 0–30 (VA). buildable x 43–49 (6) × y 4–27 (23) = 138 m²; footprint min(138, 216) = 138;
    # floor area min(COS 1.2 × 360 = 432, 138 × 3 = 414) = 414: the footprint × levels binds
    (part,) = _env(wconn, "TF 202/E")["parts"]
    assert (part["buildable_area_m2"], part["footprint"]["max_m2"]) == (138.0, 138.0)
    assert (part["floor_area"]["max_m2"], part["floor_area"]["binding"]) == (414.0, "footprint_x_levels")


def test_corner_land_on_two_roads(wconn):
    # TF 203: x 80–100, y 0–25, Rue principale on its south limit and the Avenue (x 100–112) on its east limit.
    # road setback 4 along both: y ≥ 4 and x ≤ 96; the west and north limits meet a road limit: side 3 → x ≥ 83,
    # y ≤ 22. buildable x 83–96 (13) × y 4–22 (18) = 234 m²; footprint min(234, 60 % × 500 = 300) = 234;
    # floor area min(1.2 × 500 = 600, 234 × 3 = 702) = 600 (COS)
    out = _env(wconn, "TF 203/E")
    (part,) = out["parts"]
    assert out["limits"]["corner"] and out["limits"]["road_m"] == 45.0 and out["limits"]["rear_m"] == 0.0
    assert "terrain_d_angle" in _codes(out["reasons"])
    assert _same(part["geometry"], box(83, 4, 13, 18))
    assert (part["footprint"]["max_m2"], part["floor_area"]["max_m2"]) == (234.0, 600.0)
    assert out["context"]["road_width_m"] == 20.0  # the widest road fronted


def test_continuous_frontage_builds_on_the_side_limits(wconn):
    # TF 204: x 130–145, y 0–30 (CF: r 0, no side setback, b 6, 70 %, CUS 2.8, R+4).
    # buildable x 130–145 (15) × y 0–24 (24) = 360 m²; footprint min(360, 70 % × 450 = 315) = 315 (the %);
    # floor area min(CUS 2.8 × 450 = 1260, 315 × 5 = 1575) = 1260 (CUS)
    (part,) = _env(wconn, "TF 204/E")["parts"]
    assert part["setbacks"]["continuous_frontage"] and "front_bati_continu" in _codes(part["reasons"])
    assert _same(part["geometry"], box(130, 0, 15, 24))
    assert (part["footprint"]["max_m2"], part["footprint"]["binding"]) == (315.0, "footprint_max_pct")
    assert (part["floor_area"]["max_m2"], part["floor_area"]["binding"]) == (1260.0, "cus")


def test_widening_strip_moves_the_road_setback_to_the_alignment(wconn):
    # TF 205: x 58–78, y 0–30 (VA); the widening strip y 0–5 takes 20 × 5 = 100 m² (net 500 m²); the road setback
    # runs from the alignment y = 5: y ≥ 9. buildable x 61–75 (14) × y 9–27 (18) = 252 m².
    # The planned width (30 m) is the road's width for the rules: R+3 and 14.5 m instead of R+2 and 11.5 m (road of
    # 25 m or more): min(3 + 1, floor(14.5 / 3) = 4) = 4 levels. footprint min(252, 60 % × 600 = 360) = 252;
    # floor area min(1.2 × 600 = 720, 252 × 4 = 1008) = 720
    out = _env(wconn, "TF 205/E")
    (part,) = out["parts"]
    assert part["deductions"] == [{"kind": "road_widening", "kind_label": "élargissement de voie", "area_m2": 100.0,
                                   "label": "Élargissement de la rue principale à 30 m"}]
    assert part["net_area_m2"] == 500.0
    assert _same(part["geometry"], box(61, 9, 14, 18))
    assert out["context"] == {"road_width_m": 30.0, "road_width_source": "planned", "plot_area_m2": 600.0}
    assert "largeur_voie_prevue" in _codes(out["reasons"])
    assert (part["height"]["storeys_max"], part["height"]["max_m"], part["height"]["levels"]) == (3, 14.5, 4)
    assert part["height"]["rule"] == "voie d'au moins 25 m" and part["height"]["levels_binding"] == "storeys_max"
    assert part["floor_area"]["candidates"] == {"cos": 720.0, "footprint_x_levels": 1008.0}


def test_land_split_between_two_zones(wconn):
    # TF 206: x 190–210, y 0–30: x 190–200 in CF (300 m²), x 200–210 in E (300 m²).
    # CF part: no side setback, b 6 → 10 × 24 = 240 m²; footprint min(240, 70 % × 300 = 210) = 210;
    #   floor area min(CUS 2.8 × 300 = 840, 210 × 5 = 1050) = 840 (CUS)
    # E part: b 3 → 10 × 27 = 270 m²; footprint min(270, 80 % × 300 = 240, COS « emprise » 0.6 × 300 = 180) = 180
    #   (the COS is a footprint ratio here); floor area min(CUS 2.0 × 300 = 600, 180 × 4 = 720) = 600 (CUS)
    # totals: 240 + 270 = 510 buildable, 210 + 180 = 390 footprint, 840 + 600 = 1440 floor area
    out = _env(wconn, "TF 206/E")
    cf, e = sorted(out["parts"], key=lambda p: p["zone"]["code"])
    assert (cf["zone"]["code"], e["zone"]["code"]) == ("CF", "E")
    assert _same(cf["geometry"], box(190, 0, 10, 24))
    assert _same(e["geometry"], box(200, 0, 10, 27))
    assert (cf["footprint"]["max_m2"], cf["floor_area"]["max_m2"]) == (210.0, 840.0)
    assert (e["footprint"]["max_m2"], e["footprint"]["binding"]) == (180.0, "cos")
    assert (e["floor_area"]["max_m2"], e["floor_area"]["binding"]) == (600.0, "cus")
    assert out["totals"] == {"land_area_m2": 600.0, "buildable_area_m2": 510.0, "max_footprint_m2": 390.0,
                             "max_floor_area_m2": 1440.0}
    assert shape(out["geometry"]).area == pytest.approx(510.0)


def test_envelope_eaten_whole_by_the_setbacks(wconn):
    # TF 207: x 2–8 (6 m wide), y 0–40 (VA): the side setbacks of 3 m from x = 2 and x = 8 meet at x = 5
    out = _env(wconn, "TF 207/E")
    (part,) = out["parts"]
    assert (part["buildable_area_m2"], part["pieces"], part["geometry"]) == (0.0, 0, None)
    assert not out["buildable"] and out["geometry"] is None and out["totals"]["max_floor_area_m2"] == 0.0
    assert "emprise_vide" in _codes(out["reasons"]) and "reculs" in part["reasons"][0]["message"]


def test_land_under_the_minimum_plot_area_is_not_buildable(wconn):
    # TF 208: 10 × 10 = 100 m² under VA's minimum of 150 m², although 4 × 3 = 12 m² would be left by the setbacks
    out = _env(wconn, "TF 208/E")
    (part,) = out["parts"]
    assert part["plot"] == {"min_area_m2": 150.0, "area_ok": False, "min_frontage_m": 6.0, "frontage_m": 10.0,
                            "frontage_ok": True}
    assert part["buildable_area_m2"] == 12.0 and not part["buildable"] and not out["buildable"]
    assert "sous_surface_minimale" in _codes(out["reasons"]) and out["totals"]["max_footprint_m2"] == 0.0


def test_irregular_land_gets_the_larger_setback_on_its_45_degree_limit(wconn):
    # TF 209: (130, 100) (150, 100) (150, 90) (130, 70) on Rue nord (CF: no side setback, b 6); area
    # 20 × 30 − ½ × 20 × 20 = 400 m². The limit (150, 90)–(130, 70) meets no road limit and lies at 45° to the road:
    # neither side nor rear, it gets max(side 0, rear 6) = 6 m. The band within 6 m of it, inside the land:
    # a strip 6 × 20√2 less the right isosceles triangle of legs 6 beyond the west limit (18 m²), plus the 45°
    # sector of radius 6 at its east end above y = 90 (36π / 8 = 4.5π). buildable = 400 − (120√2 − 18 + 4.5π)
    expected = 400 - (120 * math.sqrt(2) - 18 + 4.5 * math.pi)  # 234.157…
    out = _env(wconn, "TF 209/E")
    (part,) = out["parts"]
    assert out["limits"]["ambiguous_m"] == pytest.approx(20 * math.sqrt(2), abs=0.01)
    assert "limites_ambigues" in _codes(part["reasons"]) and part["setbacks"]["ambiguous_m"] == 6.0
    assert part["buildable_area_m2"] == pytest.approx(expected, abs=0.05)  # the arc drawn in 16 chords a quarter
    limit = shapely.LineString([(X0 + 150, Y0 + 90), (X0 + 130, Y0 + 70)])
    # every buildable point is 6 m from that limit (the chords of the arc come 6 × (1 − cos(π / 64)) ≈ 7 mm closer)
    assert shape(part["geometry"]).distance(limit) == pytest.approx(6.0, abs=0.01)


def test_height_tied_to_the_road_width(wconn):
    # TF 210: x 310–330, y 80–100 on Rue nord (10 m), zone H: base height 20 m, R+5, H ≤ L + R = 10 + 4 = 14 m.
    # levels: min(R+5 → 6, floor(14 / 3 m a storey) = 4) = 4. buildable x 313–327 (14) × y 83–96 (13) = 182 m²;
    # footprint min(182, 50 % × 400 = 200) = 182; floor area min(CUS 3.0 × 400 = 1200, 182 × 4 = 728) = 728
    (part,) = _env(wconn, "TF 210/E")["parts"]
    h = part["height"]
    assert (h["max_m"], h["base_m"], h["binding"]) == (14.0, 20.0, "road_width_plus_setback")
    assert (h["levels"], h["levels_binding"], h["article"]) == (4, "height_max_m", "H 7")
    assert "voie de 10 m + recul de 4 m" in h["rule"]
    assert (part["buildable_area_m2"], part["floor_area"]["max_m2"]) == (182.0, 728.0)
    assert part["floor_area"]["binding"] == "footprint_x_levels"
    # a taller storey is a setting: at 3.5 m, floor(14 / 3.5) = 4 levels still; at 4 m, 3 levels → 182 × 3 = 546
    (tall,) = _env(wconn, "TF 210/E", envelope_storey_height_m=4.0)["parts"]
    assert (tall["height"]["levels"], tall["floor_area"]["max_m2"]) == (3, 546.0)


def test_ratios_on_the_net_area_are_a_setting(wconn):
    # TF 205 with the ratios on the net area (500 m²): COS 1.2 × 500 = 600 < 252 × 4 = 1008; 60 % × 500 = 300 > 252
    (part,) = _env(wconn, "TF 205/E", envelope_ratio_area="net")["parts"]
    assert (part["ratio_area_m2"], part["floor_area"]["max_m2"]) == (500.0, 600.0)


# ------------------------------------------------------------------------------------ HTTP and command line
@pytest.fixture
def client(db_url, wconn):
    return create_app(app_settings(db_url, pool_min=1, pool_max=2)).test_client()


def test_envelope_process_over_http_is_stored_and_reprojected(client, wconn):
    body = {"inputs": {"land": {"refs": ["TF 201/E"]}, "date": "2015-01-01", "output_crs": "OGC:CRS84"}}
    r = client.post("/ogc/processes/envelope/execution", json=body)
    assert r.status_code == 200, r.get_data(as_text=True)
    out = r.get_json()
    jsonschema.validate(out, SCHEMA)
    assert out["crs"] == "OGC:CRS84" and out["totals"]["buildable_area_m2"] == 322.0
    lon, lat = shape(out["geometry"]).centroid.coords[0]
    assert -8 < lon < -7 and 33 < lat < 34  # Casablanca in longitude, latitude
    kind, request, stored = wconn.execute("SELECT kind, request, result FROM check_results WHERE id = %s",
                                          (out["check_id"],)).fetchone()
    assert kind == "envelope" and request["land"] == {"refs": ["TF 201/E"]} and request["output_crs"] == "OGC:CRS84"
    assert stored["totals"] == out["totals"] and stored["crs"] == "EPSG:26191"  # kept as computed, in 26191


@pytest.mark.parametrize("inputs,message", [
    ({"land": {"refs": ["TF 201/E"]}, "output_crs": "EPSG:999999"}, "système de coordonnées inconnu"),
    ({"land": {"refs": ["TF 201/E"]}, "output_crs": 4326}, "output_crs"),
    ({"land": {"refs": ["TF 201/E"]}, "output_crs": "EPSG:4978"}, "est un SCR géocentrique"),  # review S6
    ({"land": {"refs": ["TF 999/E"]}}, "inconnu"),
    ({"land": "TF 201/E"}, "objet"),
    ({}, "manquante"),
])
def test_envelope_process_refuses_bad_inputs_in_french(client, wconn, inputs, message):
    r = client.post("/ogc/processes/envelope/execution", json={"inputs": {"date": "2015-01-01", **inputs}})
    assert 400 <= r.status_code < 500 and message in r.get_json()["description"], r.get_data(as_text=True)
    assert wconn.execute("SELECT count(*) FROM check_results WHERE kind = 'envelope'").fetchone()[0] == 0


def test_cli_prints_each_part_with_the_binding_rule(wconn, db_url, monkeypatch):
    monkeypatch.setenv("URBASIG_DATABASE_URL", db_url)
    run = CliRunner().invoke(cli, ["envelope", "TF 206/E", "--date", "2015-01-01"])
    assert run.exit_code == 0, run.output
    assert "Constructible : oui" in run.output and "Zone CF" in run.output and "Zone E" in run.output
    assert "limitée par : COS (emprise)" in run.output and "limitée par : CUS (surface de plancher)" in run.output
    as_json = CliRunner().invoke(cli, ["envelope", "TF 201/E", "--date", "2015-01-01", "--json", "--crs", "EPSG:4326"])
    assert as_json.exit_code == 0 and json.loads(as_json.output)["crs"] == "EPSG:4326"
    bad = CliRunner().invoke(cli, ["envelope", "TF 201/E", "--crs", "EPSG:0"])
    assert bad.exit_code == 2 and "système de coordonnées inconnu" in bad.output


# ------------------------------------------------------------------------------------ found in review (issue 15)
def test_the_envelope_of_what_the_instruction_read_is_that_of_its_result(wconn):
    # the envelope reuses the roads and zones its instruction read instead of querying them again: the same answer
    # as the envelope of the instruction's result alone (as a note stores it), for every land of the world
    options = Options()
    for ref in world.PARCELS:
        instructed = instruct_with_sources(wconn, LandRequest(refs=(ref,)), world.DAY,
                                           replace(options, with_geometry=True))
        assert instructed.roads and all(r["wkb"] for r in instructed.roads), ref
        assert envelope_from(wconn, instructed, options) == envelope_of(wconn, instructed.result), ref


@pytest.fixture
def capped(db_url, wconn):
    """The app with the envelope's area limit under TF 201's 600 m² (URBASIG_ENVELOPE_MAX_AREA_M2=500)."""
    return create_app(app_settings(db_url, pool_min=1, pool_max=2, envelope_max_area_m2=500)).test_client()


def test_a_land_past_the_envelope_limits_is_refused_in_french_everywhere_and_nothing_is_written(capped, wconn):
    # S2: the envelope's own bound (the instruction's limits are 5 km² and 10,000 vertices)
    too_large = "terrain trop grand pour une enveloppe : 0,06 ha, au-delà de 0,05 ha (URBASIG_ENVELOPE_MAX_AREA_M2)"
    r = capped.post("/ogc/processes/envelope/execution",
                    json={"inputs": {"land": {"refs": ["TF 201/E"]}, "date": "2015-01-01"}})
    assert r.status_code == 400 and too_large in r.get_json()["description"], r.get_data(as_text=True)
    # a drawn land asked as a job is refused before the job is written: 30 × 30 = 900 m²
    ring = [[X0 + x, Y0 + y] for x, y in ((0, 50), (30, 50), (30, 80), (0, 80), (0, 50))]
    r = capped.post("/ogc/processes/envelope/execution", headers={"Prefer": "respond-async"},
                    json={"inputs": {"land": {"geometry": {"type": "Polygon", "coordinates": [ring]}},
                                     "crs": "EPSG:26191", "date": "2015-01-01"}})
    assert r.status_code == 400 and "terrain trop grand pour une enveloppe : 0,09 ha" in r.get_json()["description"]
    assert wconn.execute("SELECT (SELECT count(*) FROM check_results), (SELECT count(*) FROM jobs)").fetchone() == (0, 0)
    # the map's 3D view: JSON in the page's language, with the figures
    r = capped.get("/carte/enveloppe?land=TF%20201/E&date=2015-01-01&lang=fr")
    body = r.get_json()
    assert r.status_code == 400 and body["code"] == "panel.error.envelope_too_large"
    assert body["message"].replace("\u00a0", " ") == ("Terrain trop grand pour une enveloppe constructible (600 m² pour "
                                                      "au plus 500 m²) : elle se calcule pour un terrain à bâtir.")
    arabic = capped.get("/carte/enveloppe?land=TF%20201/E&date=2015-01-01&lang=ar").get_json()["message"]
    assert "غلاف" in arabic and "500" in arabic


def test_cli_refuses_a_land_past_the_envelope_limits(wconn, db_url, monkeypatch):
    monkeypatch.setenv("URBASIG_DATABASE_URL", db_url)
    monkeypatch.setenv("URBASIG_ENVELOPE_MAX_VERTICES", "4")  # TF 201's outline has 5 (its ring closes)
    run = CliRunner().invoke(cli, ["envelope", "TF 201/E", "--date", "2015-01-01"])
    assert run.exit_code == 2 and "5 sommets, au-delà de 4 (URBASIG_ENVELOPE_MAX_VERTICES)" in run.output
