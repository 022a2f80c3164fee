"""Instruction on a hand-built territory: every answer below is worked out by hand (see instruction_world)."""

from __future__ import annotations

import json
from datetime import date

import pytest
import shapely
from click.testing import CliRunner

from gis.errors import CRSError, GeometryError, InputError, LandRefError, NotFound
from instruction.engine import Options, instruct
from instruction.findings import canonical_json
from instruction.land import LandRequest
from instruction.summary import summary_text
from tests import instruction_world as world
from tests.helpers import X0, Y0, box

D2015 = date(2015, 1, 1)


@pytest.fixture
def wconn(conn):
    world.build(conn)
    return conn


def _zones(result):
    return [(f["code"], f["area_m2"], f["share_pct"], f["marginal"]) for f in result["layers"][0]["features"]]


def _layer(result, name):
    return next(layer for layer in result["layers"] if layer["layer"] == name)


def test_parcel_split_40_60_between_two_zones(wconn):
    result = instruct(wconn, LandRequest(refs=("TF 1/T",)), D2015)
    assert result["land"]["area_m2"] == 2000.0
    assert _zones(result) == [("D", 1200.0, 60.0, False), ("V2", 800.0, 40.0, False)]
    rules = {r["zone"]["code"]: r for r in result["rules"]}
    assert rules["V2"]["parameters"]["storeys_max"]["value"] == 2 and rules["D"]["parameters"]["storeys_max"]["value"] == 4
    assert rules["V2"]["parameters"]["cos_value"]["meaning"] == "plancher"
    assert "plusieurs_zones" in {w["code"] for w in result["warnings"]}
    assert result["plans"]["applied"][0]["code"] == "PA-T-2006"


def test_widening_strip_of_five_metres(wconn):
    result = instruct(wconn, LandRequest(refs=("TF 2/T",)), D2015)
    (widening,) = result["roads"]["widenings"]
    assert (widening["area_m2"], widening["share_pct"], widening["depth_m"]) == (150.0, 12.5, 5.0)
    assert widening["planned_width_m"] == 25.0
    assert result["roads"]["lost_area_m2"] == 150.0 and result["roads"]["remaining_area_m2"] == 1050.0
    (alignment,) = result["roads"]["alignments"]
    assert alignment["length_m"] == 30.0


def test_sliver_is_reported_and_flagged_marginal(wconn):
    result = instruct(wconn, LandRequest(refs=("TF 3/T",)), D2015)
    assert _zones(result) == [("D", 1975.0, 98.75, False), ("C", 25.0, 1.25, True)]
    assert "zones_marginales" in {w["code"] for w in result["warnings"]}
    assert "plusieurs_zones" not in {w["code"] for w in result["warnings"]}


def test_plan_changed_between_two_dates(wconn):
    before = instruct(wconn, LandRequest(refs=("TF 4/T",)), D2015)
    after = instruct(wconn, LandRequest(refs=("TF 4/T",)), date(2021, 1, 1))
    assert _zones(before) == [("C", 2000.0, 100.0, False)] and before["plans"]["applied"][0]["code"] == "PA-T-2006"
    assert _zones(after) == [("B", 2000.0, 100.0, False)] and after["plans"]["applied"][0]["code"] == "PA-T-2020"
    during = instruct(wconn, LandRequest(refs=("TF 4/T",)), date(2019, 6, 1))
    assert _zones(during) == [("C", 2000.0, 100.0, False)]
    (inquiry,) = during["inquiry"]
    assert inquiry["plan"]["code"] == "PA-T-2020" and inquiry["zoning_changed"]
    assert [z["code"] for z in inquiry["zones"]] == ["B"]
    warning = next(w for w in during["warnings"] if w["code"] == "plan_en_enquete")
    assert "B (100.0 %) au lieu de C (100.0 %)" in warning["message"]


def test_plan_in_inquiry_applied_when_the_setting_says_so(wconn):
    result = instruct(wconn, LandRequest(refs=("TF 4/T",)), date(2019, 6, 1), Options(apply_plans_in_inquiry=True))
    assert _zones(result) == [("B", 2000.0, 100.0, False)]
    assert "plan_en_enquete_applique" in {w["code"] for w in result["warnings"]}


def test_no_pa_means_sdau_alone_said_plainly(wconn):
    result = instruct(wconn, LandRequest(refs=("TF 5/T",)), D2015)
    assert result["plans"]["applied"] == [] and result["sdau"][0]["code"] == "UE"
    assert _layer(result, "zones")["coverage"] == "not_covered"
    assert _layer(result, "sdau")["coverage"] == "covered"
    assert "sans_plan_amenagement" in {w["code"] for w in result["warnings"]}
    assert "seul le SDAU" in summary_text(result) or "Aucun plan d'aménagement" in summary_text(result)


def test_land_outside_every_layer_is_not_covered_not_unconstrained(wconn):
    result = instruct(wconn, LandRequest(refs=("TF 6/T",)), D2015)
    assert {layer["coverage"] for layer in result["layers"]} == {"not_covered"}
    assert all(layer["features"] == [] for layer in result["layers"])
    assert "aucun_document" in {w["code"] for w in result["warnings"]}
    assert "ne signifie pas absence de contrainte" in summary_text(result)


def test_contiguous_titles_are_merged(wconn):
    result = instruct(wconn, LandRequest(refs=("TF 7/T", "T.8/T")), D2015)
    assert result["land"]["refs"] == ["TF 7/T", "TF 8/T"]
    assert (result["land"]["area_m2"], result["land"]["parts"], result["land"]["contiguous"]) == (1600.0, 1, True)
    (reservation,) = result["reservations"]
    assert (reservation["facility_code"], reservation["area_m2"], reservation["share_pct"]) == ("E", 400.0, 25.0)


def test_non_contiguous_titles_are_said_so(wconn):
    result = instruct(wconn, LandRequest(refs=("TF 7/T", "TF 9/T")), D2015)
    assert (result["land"]["parts"], result["land"]["contiguous"]) == (2, False)
    assert "titres_non_contigus" in {w["code"] for w in result["warnings"]}


def test_geometry_in_crs84_gives_the_same_shares_as_the_title(wconn):
    import numpy as np

    from gis.crs import parse_crs, reproject
    lonlat = reproject(np.array([world.PARCELS["TF 1/T"]], dtype=object), parse_crs(26191), parse_crs("CRS84"))[0]
    result = instruct(wconn, LandRequest(geometry=json.loads(shapely.to_geojson(lonlat))), D2015)
    assert [(c, s) for c, _, s, _ in _zones(result)] == [("D", 60.0), ("V2", 40.0)]
    assert result["land"]["area_m2"] == pytest.approx(2000, abs=0.05)


def test_point_finds_the_parcel(wconn):
    result = instruct(wconn, LandRequest(point=(X0 + 50, Y0 + 10), crs="EPSG:26191"), D2015)
    assert result["land"]["refs"] == ["TF 1/T"]


def test_result_is_deterministic_and_records_what_was_used(wconn):
    first = canonical_json(instruct(wconn, LandRequest(refs=("TF 1/T",)), D2015))
    second = canonical_json(instruct(wconn, LandRequest(refs=("tf1-t",)), D2015))
    assert first == second
    provenance = json.loads(first)["provenance"]
    assert provenance["thresholds"]["version"] == "1" and provenance["data_timestamp"]
    assert provenance["plans_used"] == ["PA-T-2006", "SDAU-T"] and provenance["code_version"]


def test_result_matches_its_json_schema(wconn):
    import jsonschema

    from instruction import schema_path

    schema = json.loads(schema_path().read_text())
    for ref in ("TF 1/T", "TF 2/T", "TF 5/T", "TF 6/T"):
        jsonschema.validate(instruct(wconn, LandRequest(refs=(ref,)), date(2019, 6, 1), Options(with_geometry=True)),
                            schema)


def test_intersection_geometry_on_request(wconn):
    result = instruct(wconn, LandRequest(refs=("TF 1/T",)), D2015, Options(with_geometry=True))
    geoms = {f["code"]: shapely.geometry.shape(f["geometry"]) for f in result["layers"][0]["features"]}
    assert geoms["V2"].area == pytest.approx(800) and geoms["D"].area == pytest.approx(1200)
    assert "geometry" not in instruct(wconn, LandRequest(refs=("TF 1/T",)), D2015)["layers"][0]["features"][0]


@pytest.mark.parametrize("request_,error,message", [
    (LandRequest(refs=("TF 999/T",)), NotFound, "TF 999/T"),
    (LandRequest(refs=("lot B",)), LandRefError, "illisible"),
    (LandRequest(refs=("non immatriculé",)), InputError, "géométrie"),
    (LandRequest(geometry={"type": "Polygon", "coordinates": [[[X0, Y0], [X0 + 10, Y0 + 10], [X0 + 10, Y0],
                                                                 [X0, Y0 + 10], [X0, Y0]]]}, crs="EPSG:26191"),
     GeometryError, "auto-intersection"),
    (LandRequest(geometry={"type": "Polygon", "coordinates": []}), GeometryError, "vide"),
    (LandRequest(geometry={"type": "Point", "coordinates": [-7.6, 33.5]}), GeometryError, "polygone"),
    (LandRequest(geometry=json.loads(shapely.to_geojson(shapely.box(2.33, 48.85, 2.34, 48.86)))), CRSError, "Maroc"),
    (LandRequest(geometry=json.loads(shapely.to_geojson(box(0, 0, 10_000, 10_000))), crs="EPSG:26191"), InputError,
     "km²"),
    (LandRequest(), InputError, "une seule façon"),
])
def test_bad_land_is_a_clear_error(wconn, request_, error, message):
    with pytest.raises(error, match=message):
        instruct(wconn, request_, D2015)


def test_date_before_any_plan(wconn):
    with pytest.raises(InputError, match="antérieure"):
        instruct(wconn, LandRequest(refs=("TF 1/T",)), date(1990, 1, 1))


def test_cli_instruct(db_url, wconn, monkeypatch):
    from app import cli

    monkeypatch.setenv("URBASIG_DATABASE_URL", db_url)
    ok = CliRunner().invoke(cli, ["instruct", "TF 1/T", "--date", "2015-01-01", "--json"])
    assert ok.exit_code == 0 and json.loads(ok.output)["land"]["area_m2"] == 2000.0
    text = CliRunner().invoke(cli, ["instruct", "TF 1/T", "--date", "2015-01-01"])
    assert "zone V2" in text.output and "40\u00a0%" in text.output  # gis/l10n.py: a no-break space before %
    bad = CliRunner().invoke(cli, ["instruct", "TF 999/T"])
    assert bad.exit_code == 2 and bad.output.strip() == "erreur : titre(s) inconnu(s) : TF 999/T"
