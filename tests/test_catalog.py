"""One catalogue of layers: imports, OGC collections and tile layers all come from layers/catalog.py (no database)."""

from __future__ import annotations

import inspect
from dataclasses import replace

import api.ogc.features
import api.ogc.meta
import api.ogc.openapi
import layers.features
import layers.tiles
from gis.crs import API_CRS
from layers.catalog import CATALOGUE, LAYERS, Column, Tiles, get_layer
from layers.features import COLLECTIONS, collection_of
from layers.tiles import TILE_LAYERS, tile_layer_of


def test_collections_and_tile_layers_are_derived_from_the_catalogue():
    assert list(COLLECTIONS) == list(CATALOGUE)
    for name, layer in CATALOGUE.items():
        c = COLLECTIONS[name]
        published = [col for col in layer.fields if col.ogc and col.type != "json"]
        assert [p.name for p in c.props] == [col.name for col in published]
        assert [p.restricted for p in c.props] == [col.ogc == "partner" for col in published]
        assert (c.title, c.description, c.restricted) == (layer.label, layer.description, layer.restricted)
    assert set(TILE_LAYERS) == {name for name, layer in CATALOGUE.items() if layer.tiles}
    for name, tile_layer in TILE_LAYERS.items():
        names = [n for n, _ in tile_layer.props]
        assert names == ["id", *(col.tile for col in CATALOGUE[name].fields if col.tile)]


def test_a_column_declared_once_reaches_imports_collections_and_tiles():
    roads = CATALOGUE["roads"]
    lanes = Column("lanes", "int", "lanes", "nombre de voies", tile="lanes")
    secret = Column("contractor", "text", "contractor", "entreprise", ogc="partner", tile="contractor")
    layer = replace(roads, fields=(*roads.fields, lanes, secret), tiles=Tiles("t.id", ((10, 100),)))
    assert layer.column("lanes") is lanes  # importable under its name and short name
    collection = collection_of(layer)
    assert collection.prop("lanes").type == "integer" and collection.prop("lanes").expr == "t.lanes"
    assert collection.prop("contractor").restricted
    tile_props = dict(tile_layer_of(layer).props)
    assert tile_props["lanes"] == "t.lanes" and "contractor" not in tile_props  # partner data never in tiles


def test_plan_bound_layers_carry_their_plan_and_its_status():
    for name in ("zones", "prescriptions", "sdau"):
        props = {p.name: p.expr for p in COLLECTIONS[name].props}
        assert props["plan"] == "p.code" and props["plan_status"].startswith("plan_status_on(p.id")
        assert COLLECTIONS[name].temporal == "plan" and "en vigueur aujourd'hui" in COLLECTIONS[name].description
        assert "plan" not in [c.name for c in CATALOGUE[name].columns]  # derived: no import file fills it


def test_imports_see_only_importable_layers_and_columns():
    assert "plans" not in LAYERS and "plans" in CATALOGUE
    assert [c.name for c in get_layer("parcels").columns] == ["land_ref", "legal_area_m2", "commune_code", "address"]
    assert all(c.short for layer in LAYERS.values() for c in layer.columns)


def test_no_attribute_is_declared_outside_the_catalogue():
    """The modules that used to repeat the attribute lists name no attribute of their own."""
    specific = {col.name for layer in CATALOGUE.values() for col in layer.fields
                if col.name not in ("id", "code", "name", "kind", "status", "label", "plan")}
    for module in (layers.features, layers.tiles, api.ogc.features, api.ogc.meta, api.ogc.openapi):
        source = inspect.getsource(module)
        assert not [name for name in specific if f'"{name}"' in source or f"t.{name}" in source], module.__name__


def test_one_crs_table():
    """The CRSs the API serves are declared in gis/crs.py only."""
    assert not hasattr(api.ogc.features, "CRS") and not hasattr(api.ogc.features, "ALIASES")
    assert api.ogc.openapi.PARAMETERS["crs"]["schema"]["enum"] == list(API_CRS)
