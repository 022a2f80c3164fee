"""File imports into PostGIS: formats, mapping, CRS, repair, all-or-nothing, round trips."""

from __future__ import annotations

import json
from pathlib import Path

import ezdxf
import pytest
import shapely
from click.testing import CliRunner

from gis.errors import Conflict, CRSError, FileFormatError, GeometryError, InputError, NotFound
from layers.exports import export_layer
from layers.imports import ImportRequest, run_import
from layers.mapping import load_mapping, parse_mapping
from tests.helpers import X0, Y0, add_commune, box, count, write_layer

PARCELS = [
    ({"NUM_TF": "TF 3875/C", "SUP": 400.0, "ADR": "12, rue des Orangers"}, box(0, 0, 20, 20)),
    ({"NUM_TF": "T.3876/C", "SUP": 600.5, "ADR": "14, rue des Orangers"}, box(20, 0, 30, 20)),
    ({"NUM_TF": "R 1234/C", "SUP": 250.0, "ADR": None}, box(0, 20, 10, 25)),
    ({"NUM_TF": "non immatriculé", "SUP": None, "ADR": None}, box(10, 20, 40, 25)),
]
PARCEL_MAPPING = {"layer": "parcels", "fields": {"land_ref": "NUM_TF", "legal_area_m2": "SUP", "address": "ADR"}}


def _parcels_file(path: Path, rows=PARCELS, crs="EPSG:26191") -> Path:
    return write_layer(path, [r for r, _ in rows], [g for _, g in rows], crs=crs)


def _import(conn, path, layer="parcels", mapping=PARCEL_MAPPING, **kw):
    return run_import(conn, ImportRequest(path=path, layer=layer, mapping=parse_mapping(mapping) if mapping else None,
                                          **kw))


def _nothing_written(conn):
    for table in ("parcels", "zones", "prescriptions", "plans", "imports"):
        assert count(conn, table) == 0, table


@pytest.fixture
def commune(conn):
    add_commune(conn, "ANFA", box(-100, -100, 400, 400))
    return "ANFA"


def test_geopackage_parcels_import_normalises_titles_and_assigns_commune(conn, commune, tmp_path):
    result = _import(conn, _parcels_file(tmp_path / "p.gpkg"))
    assert result.count == 4 and result.import_id
    rows = conn.execute("SELECT land_ref, ref_text, ref_kind, legal_area_m2, round(area_m2), commune_code "
                        "FROM parcels ORDER BY id").fetchall()
    assert [r[0] for r in rows] == ["TF 3875/C", "TF 3876/C", "R 1234/C", None]
    assert rows[1][1] == "T.3876/C"  # original text kept
    assert rows[3][2] == "NI"
    assert float(rows[1][3]) == 600.5 and rows[1][4] == 600
    assert {r[5] for r in rows} == {"ANFA"}
    provenance = conn.execute("SELECT layer, feature_count, source_crs, code_version FROM imports").fetchone()
    assert provenance[:2] == ("parcels", 4) and "26191" in provenance[2] and provenance[3]


def test_geojson_in_degrees_is_reprojected(conn, commune, tmp_path):
    import numpy as np

    from gis.crs import parse_crs, reproject
    geoms = reproject(np.array([g for _, g in PARCELS]), parse_crs(26191), parse_crs(4326))
    path = _parcels_file(tmp_path / "p.geojson", rows=[(r, g) for (r, _), g in zip(PARCELS, geoms, strict=True)],
                         crs="EPSG:4326")
    _import(conn, path)
    area = conn.execute("SELECT area_m2 FROM parcels WHERE land_ref = 'TF 3875/C'").fetchone()[0]
    assert area == pytest.approx(400, abs=0.5)  # back in metres, not degrees


def test_a_second_import_of_the_same_titles_is_refused_and_writes_nothing(conn, commune, tmp_path):
    path = _parcels_file(tmp_path / "p.gpkg")
    _import(conn, path)
    with pytest.raises(Conflict, match="TF 3875/C"):
        _import(conn, path)
    assert count(conn, "parcels") == 4 and count(conn, "imports") == 1


def test_no_crs_is_refused(conn, tmp_path):
    path = _parcels_file(tmp_path / "p.shp", crs=None)
    assert not path.with_suffix(".prj").exists()
    with pytest.raises(CRSError, match="--crs"):
        _import(conn, path)
    _nothing_written(conn)


def test_no_crs_with_crs_option_is_accepted(conn, tmp_path):
    path = _parcels_file(tmp_path / "p.shp", crs=None)
    assert _import(conn, path, crs="EPSG:26191").count == 4


def test_degrees_labelled_merchich_are_detected_by_extent(conn, tmp_path):
    rows = [(r, shapely.affinity.translate(shapely.affinity.scale(g, 1e-5, 1e-5, origin=(X0, Y0)), -X0 - 7.6,
                                           -Y0 + 33.5)) for r, g in PARCELS]
    with pytest.raises(CRSError, match="degrés"):
        _import(conn, _parcels_file(tmp_path / "p.gpkg", rows=rows))
    _nothing_written(conn)


def test_self_intersecting_polygon_is_refused_with_feature_number(conn, tmp_path):
    bowtie = shapely.Polygon([(X0, Y0), (X0 + 10, Y0 + 10), (X0 + 10, Y0), (X0, Y0 + 10), (X0, Y0)])
    rows = [*PARCELS[:2], ({"NUM_TF": "TF 9/C", "SUP": 1.0, "ADR": None}, bowtie)]
    with pytest.raises(GeometryError, match=r"entité 3 : géométrie invalide : auto-intersection"):
        _import(conn, _parcels_file(tmp_path / "p.gpkg", rows=rows))
    _nothing_written(conn)


def test_self_intersecting_polygon_is_repaired_on_request(conn, tmp_path):
    bowtie = shapely.Polygon([(X0, Y0), (X0 + 10, Y0 + 10), (X0 + 10, Y0), (X0, Y0 + 10), (X0, Y0)])
    rows = [*PARCELS[:2], ({"NUM_TF": "TF 9/C", "SUP": 1.0, "ADR": None}, bowtie)]
    result = _import(conn, _parcels_file(tmp_path / "p.gpkg", rows=rows), repair=True)
    assert [n for n, _ in result.repaired] == [3]
    valid, area = conn.execute("SELECT ST_IsValid(geom), area_m2 FROM parcels WHERE land_ref = 'TF 9/C'").fetchone()
    assert valid and area == pytest.approx(50)


def test_empty_geometry_is_refused(conn, tmp_path):
    rows = [*PARCELS[:1], ({"NUM_TF": "TF 10/C", "SUP": 1.0, "ADR": None}, shapely.Polygon())]
    with pytest.raises(GeometryError, match="entité 2 : géométrie (vide|absente)"):
        _import(conn, _parcels_file(tmp_path / "p.geojson", rows=rows, crs="EPSG:26191"))
    _nothing_written(conn)


def test_truncated_geopackage_is_refused(conn, tmp_path):
    path = _parcels_file(tmp_path / "p.gpkg")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(FileFormatError, match="illisible ou tronqué"):
        _import(conn, path)
    _nothing_written(conn)


def test_truncated_geojson_is_refused(conn, tmp_path):
    path = _parcels_file(tmp_path / "p.geojson")
    text = path.read_text()
    path.write_text(text[: len(text) // 2])
    with pytest.raises(FileFormatError):
        _import(conn, path)
    _nothing_written(conn)


def test_unknown_source_layer_lists_the_layers(conn, tmp_path):
    path = _parcels_file(tmp_path / "p.gpkg")
    with pytest.raises(FileFormatError, match="couches : p"):
        _import(conn, path, source_layer="zonage")
    _nothing_written(conn)


def test_unknown_target_layer(conn, tmp_path):
    with pytest.raises(InputError, match="couche inconnue"):
        _import(conn, _parcels_file(tmp_path / "p.gpkg"), layer="batiments", mapping=None)


def test_mapping_naming_a_missing_column(conn, tmp_path):
    mapping = {"fields": {"land_ref": "NUM_TF", "address": "ADRESSE_POSTALE"}}
    with pytest.raises(FileFormatError, match="« ADRESSE_POSTALE »"):
        _import(conn, _parcels_file(tmp_path / "p.gpkg"), mapping=mapping)
    _nothing_written(conn)


def test_malformed_land_reference_names_the_feature(conn, tmp_path):
    rows = [*PARCELS[:1], ({"NUM_TF": "lot B", "SUP": 1.0, "ADR": None}, box(50, 50, 5, 5))]
    with pytest.raises(InputError, match="entité 2 : land_ref"):
        _import(conn, _parcels_file(tmp_path / "p.gpkg", rows=rows))
    _nothing_written(conn)


ZONES_MAPPING = {
    "layer": "zones",
    "fields": {"code": "ZONE", "storeys_max": "HAUTEUR", "footprint_max_pct": "EMPRISE"},
    "defaults": {"cos_meaning": "plancher"},
    "plan": {"code": "PA-TEST-2026", "kind": "PA", "name": "PA test", "status": "enquete_publique",
             "status_date": "2026-09-01", "commune_codes": ["ANFA"]},
}


def _zones_file(path):
    return write_layer(path, [{"ZONE": "V2", "HAUTEUR": "R+2", "EMPRISE": 40},
                              {"ZONE": "D", "HAUTEUR": "R+4", "EMPRISE": 70}],
                       [box(0, 0, 40, 50), box(40, 0, 60, 50)])


def test_zones_import_creates_a_new_plan_version_beside_the_old_one(conn, commune, tmp_path):
    path = _zones_file(tmp_path / "z.gpkg")
    result = _import(conn, path, layer="zones", mapping=ZONES_MAPPING)
    assert result.plan_code == "PA-TEST-2026"
    rows = conn.execute("SELECT code, storeys_max, footprint_max_pct FROM zones ORDER BY code").fetchall()
    assert [(c, s, float(f)) for c, s, f in rows] == [("D", 4, 70.0), ("V2", 2, 40.0)]
    assert conn.execute("SELECT plan_status_on(id, '2026-10-01') FROM plans").fetchone()[0] == "enquete_publique"
    # importing again into the same plan code is refused: a new version needs a new code
    with pytest.raises(Conflict):
        _import(conn, path, layer="zones", mapping=ZONES_MAPPING)
    newer = json.loads(json.dumps(ZONES_MAPPING))
    newer["plan"].update(code="PA-TEST-2027", replaces="PA-TEST-2026", status="etude", status_date="2026-11-01")
    _import(conn, path, layer="zones", mapping=newer)
    assert conn.execute("SELECT count(DISTINCT plan_id), count(*) FROM zones").fetchone() == (2, 4)


def test_zones_into_an_unknown_plan(conn, tmp_path):
    mapping = {k: v for k, v in ZONES_MAPPING.items() if k != "plan"}
    with pytest.raises(NotFound, match="plan inconnu"):
        _import(conn, _zones_file(tmp_path / "z.gpkg"), layer="zones", mapping=mapping, plan_code="PA-NOPE")
    _nothing_written(conn)


def test_dry_run_writes_nothing(conn, commune, tmp_path):
    result = _import(conn, _zones_file(tmp_path / "z.gpkg"), layer="zones", mapping=ZONES_MAPPING, dry_run=True)
    assert result.count == 2 and result.dry_run
    _nothing_written(conn)


def _draw_plan_dxf(path: Path) -> Path:
    """A zoning plan as a planner draws it: closed polylines on one CAD layer per zone, plus labels."""
    doc = ezdxf.new("R2010")
    msp = doc.modelspace()
    for name in ("ZONE_V2", "ZONE_D", "TEXTES"):
        doc.layers.add(name)
    msp.add_lwpolyline([(X0, Y0), (X0 + 40, Y0), (X0 + 40, Y0 + 50), (X0, Y0 + 50)], close=True,
                       dxfattribs={"layer": "ZONE_V2"})
    msp.add_lwpolyline([(X0 + 40, Y0), (X0 + 100, Y0), (X0 + 100, Y0 + 50), (X0 + 40, Y0 + 50)], close=True,
                       dxfattribs={"layer": "ZONE_D"})
    msp.add_text("V2", dxfattribs={"layer": "TEXTES", "insert": (X0 + 20, Y0 + 25)})
    msp.add_line((X0, Y0 - 5), (X0 + 100, Y0 - 5), dxfattribs={"layer": "TEXTES"})
    doc.saveas(path)
    return path


def test_dxf_plan_imports_with_its_zones(conn, commune, tmp_path):
    path = _draw_plan_dxf(tmp_path / "plan.dxf")
    mapping = {"layer": "zones", "fields": {"code": "Layer"},
               "values": {"code": {"ZONE_V2": "V2", "ZONE_D": "D"}},
               "plan": {"code": "PA-DXF", "kind": "PA", "name": "PA dessiné", "status": "etude",
                        "status_date": "2026-01-01"}}
    with pytest.raises(CRSError, match="--crs"):
        _import(conn, path, layer="zones", mapping=mapping)
    result = _import(conn, path, layer="zones", mapping=mapping, crs="EPSG:26191")
    assert result.count == 2 and len(result.skipped) == 2  # the label and the open line
    rows = conn.execute("SELECT code, round(ST_Area(geom)) FROM zones ORDER BY code").fetchall()
    assert rows == [("D", 3000), ("V2", 2000)]
    perimeter = conn.execute("SELECT round(ST_Area(perimeter)) FROM plans WHERE code = 'PA-DXF'").fetchone()[0]
    assert perimeter == 5000


def _snapshot(conn):
    rows = conn.execute("SELECT land_ref, ref_kind, legal_area_m2, address, commune_code, ST_AsBinary(geom) "
                        "FROM parcels ORDER BY ref_kind, land_ref").fetchall()
    return [(r[:5], shapely.from_wkb(r[5])) for r in rows]


@pytest.mark.parametrize("suffix", [".gpkg", ".shp"])
def test_export_import_round_trip(conn, commune, tmp_path, suffix):
    _import(conn, _parcels_file(tmp_path / "in.gpkg"))
    before = _snapshot(conn)
    out = tmp_path / f"out{suffix}"
    assert export_layer(conn, "parcels", out) == 4
    conn.execute("TRUNCATE parcels CASCADE")
    conn.commit()
    run_import(conn, ImportRequest(path=out, layer="parcels"))  # same names: no mapping needed
    after = _snapshot(conn)
    assert [a for a, _ in after] == [b for b, _ in before]
    for (_, g1), (_, g2) in zip(before, after, strict=True):
        assert shapely.hausdorff_distance(g1, g2) < 0.01


def test_export_in_wgs84_and_back_stays_within_a_centimetre(conn, commune, tmp_path):
    _import(conn, _parcels_file(tmp_path / "in.gpkg"))
    before = _snapshot(conn)
    out = tmp_path / "out.gpkg"
    export_layer(conn, "parcels", out, crs="EPSG:4326")
    conn.execute("TRUNCATE parcels CASCADE")
    conn.commit()
    run_import(conn, ImportRequest(path=out, layer="parcels"))
    for (_, g1), (_, g2) in zip(before, _snapshot(conn), strict=True):
        assert shapely.hausdorff_distance(g1, g2) < 0.01


def test_example_mapping_files_parse():
    root = Path(__file__).resolve().parent.parent / "data" / "mappings"
    files = sorted(root.glob("*.toml"))
    assert files
    for path in files:
        assert load_mapping(path).fields


def test_cli_import_error_is_one_line_and_non_zero(db_url, tmp_path, monkeypatch):
    from app import cli

    monkeypatch.setenv("URBASIG_DATABASE_URL", db_url)
    path = _parcels_file(tmp_path / "p.shp", crs=None)
    result = CliRunner().invoke(cli, ["import", str(path), "--layer", "parcels"])
    assert result.exit_code == 2
    assert result.output.startswith("erreur : le fichier ne déclare pas de système de coordonnées")


# --- a plan version that arrives as several files (issue 11, point 4)
def _presc_file(path, kinds):
    return write_layer(path, [{"NATURE": k, "LIB": f"{k} test"} for k in kinds],
                       [box(5 + 10 * i, 5, 5, 5) for i, _ in enumerate(kinds)])


PRESC_MAPPING = {"layer": "prescriptions", "fields": {"kind": "NATURE", "label": "LIB"}}


def test_a_version_gets_its_layers_from_several_files(conn, commune, tmp_path):
    _import(conn, _zones_file(tmp_path / "z.gpkg"), layer="zones", mapping=ZONES_MAPPING)
    existing = {**PRESC_MAPPING, "plan": {"code": "PA-TEST-2026"}}  # [plan] with only a code: an existing version
    _import(conn, _presc_file(tmp_path / "w.gpkg", ["road_widening"]), layer="prescriptions", mapping=existing)
    _import(conn, _presc_file(tmp_path / "a.gpkg", ["green_space", "flood_zone"]), layer="prescriptions",
            plan_code="PA-TEST-2026", mapping=PRESC_MAPPING)
    kinds = conn.execute("SELECT kind, count(*) FROM prescriptions GROUP BY 1 ORDER BY 1").fetchall()
    assert kinds == [("flood_zone", 1), ("green_space", 1), ("road_widening", 1)]
    assert conn.execute("SELECT count(*) FROM plans").fetchone()[0] == 1
    with pytest.raises(Conflict, match=r"déjà des prescriptions de nature road_widening.*alignment.*seules"):
        _import(conn, _presc_file(tmp_path / "b.gpkg", ["road_widening", "alignment"]), layer="prescriptions",
                mapping=existing)
    with pytest.raises(Conflict, match=r"déjà 2 entité\(s\) dans « zones »"):
        _import(conn, _zones_file(tmp_path / "z2.gpkg"), layer="zones", plan_code="PA-TEST-2026",
                mapping={k: v for k, v in ZONES_MAPPING.items() if k != "plan"})
    with pytest.raises(NotFound, match="plan inconnu"):
        _import(conn, _presc_file(tmp_path / "c.gpkg", ["alignment"]), layer="prescriptions",
                mapping={**PRESC_MAPPING, "plan": {"code": "PA-NOPE"}})
    assert conn.execute("SELECT count(*) FROM prescriptions").fetchone()[0] == 3


# --- values a constraint refuses are named in French before anything is written (point 5)
def _zones_with(tmp_path, **values):
    record = {"ZONE": "V2", **values}
    return write_layer(tmp_path / "zc.gpkg", [record, {**record, "ZONE": "D"}], [box(0, 0, 40, 50), box(40, 0, 20, 50)])


@pytest.mark.parametrize(("values", "defaults", "expected"), [
    ({"COS": 1.2}, {"cos_meaning": "Plancher"}, "cos_meaning = « Plancher » : valeur non admise (valeurs admises : "
                                                "emprise, plancher)"),
    ({"COS": 1.2}, {}, "un COS doit avoir son sens"),
    ({"EMPRISE": 120.0}, {}, "footprint_max_pct = « 120.0 » : doit être compris entre 0 et 100"),
    ({"HAUT": 123456.0}, {}, "height_max_m = « 123456.0 » : valeur trop grande (au plus 9999.99"),
    ({"HAUT": -3.0}, {}, "height_max_m = « -3.0 » : doit être supérieur ou égal à 0"),
])
def test_constrained_values_are_refused_with_feature_column_value_and_allowed(conn, commune, tmp_path, values,
                                                                                defaults, expected):
    fields = {"code": "ZONE", **{{"COS": "cos_value", "EMPRISE": "footprint_max_pct", "HAUT": "height_max_m"}[k]: k
                                 for k in values}}
    mapping = {**ZONES_MAPPING, "fields": fields, "defaults": defaults}
    with pytest.raises(InputError) as caught:
        _import(conn, _zones_with(tmp_path, **values), layer="zones", mapping=mapping)
    message = caught.value.message
    assert "entité 1" in message and "entité 2" in message and expected in message, message
    assert "violates" not in message and "Key (" not in message and "\\x" not in message
    conn.rollback()
    _nothing_written(conn)


def test_an_unaccented_enumeration_value_is_refused_with_the_allowed_spelling(conn, commune, tmp_path):
    path = write_layer(tmp_path / "e.gpkg", [{"KIND": "pharmacy", "STATUS": "ferme"}],
                       [shapely.Point(X0 + 5, Y0 + 5)])
    with pytest.raises(InputError, match=r"entité 1 : status = « ferme » : valeur non admise \(valeurs admises : "
                                         r"ouvert, fermé, demande\)"):
        _import(conn, path, layer="establishments", mapping={"fields": {"kind": "KIND", "status": "STATUS"}})


def test_a_title_already_in_the_database_is_named_in_french(conn, commune, tmp_path):
    _import(conn, _parcels_file(tmp_path / "p.gpkg"))
    again = [({"NUM_TF": "T.3875/C", "SUP": 1.0, "ADR": None}, box(200, 200, 10, 10))]
    with pytest.raises(Conflict, match=r"1 titre\(s\) déjà dans la base : TF 3875/C"):
        _import(conn, _parcels_file(tmp_path / "p2.gpkg", rows=again))
    assert count(conn, "parcels") == 4


def test_every_plan_key_is_documented_in_the_example_mapping_and_the_readme():
    from layers.plans import SPEC_KEYS, check_spec

    root = Path(__file__).resolve().parent.parent
    example = (root / "data" / "mappings" / "zones-pa.toml").read_text(encoding="utf-8")
    readme = (root / "README.md").read_text(encoding="utf-8")
    for key in SPEC_KEYS:
        assert f"{key} =" in example and f"`{key}`" in readme, key
    assert check_spec(load_mapping(root / "data" / "mappings" / "zones-pa.toml").plan)["code"] == "PA-ANFA-2026"
    assert load_mapping(root / "data" / "mappings" / "prescriptions-pa.toml").plan == {"code": "PA-ANFA-2026"}


def test_empty_cells_of_a_column_with_a_default_take_the_default(conn, commune, tmp_path):
    path = write_layer(tmp_path / "u.gpkg", [{"ZONE": "V2", "COND": None}, {"ZONE": "D", "COND": "commerce"}],
                       [box(0, 0, 40, 50), box(40, 0, 20, 50)])
    mapping = {**ZONES_MAPPING, "fields": {"code": "ZONE", "uses_conditional": "COND"}}
    _import(conn, path, layer="zones", mapping=mapping)
    rows = conn.execute("SELECT code, uses_conditional FROM zones ORDER BY code").fetchall()
    assert rows == [("D", ["commerce"]), ("V2", [])]
