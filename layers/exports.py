"""Export a layer (or one plan version) to GeoPackage, Shapefile or GeoJSON."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import geopandas as gpd
import psycopg
import pyogrio
import shapely
from psycopg import sql

from gis.crs import parse_crs, srid_of
from gis.errors import CRSError, FileFormatError
from layers.catalog import get_layer
from layers.plans import get_plan

DRIVERS = {".gpkg": "GPKG", ".shp": "ESRI Shapefile", ".geojson": "GeoJSON", ".json": "GeoJSON"}


def export_value(value: object, type_: str) -> object:
    """A database value as a file attribute holds it: lists joined by « ; », JSON as text, dates in ISO 8601."""
    if value is None:
        return None
    if type_ == "text[]":
        return "; ".join(value) if value else None
    if type_ == "json":
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if type_ in ("float", "int", "rplus") and value is not None:
        return float(value) if type_ == "float" else int(value)
    return value


def export_layer(conn: psycopg.Connection, layer_name: str, path: Path, plan_code: str | None = None,
                 crs: str = "EPSG:26191") -> int:
    """Write the layer's features (never owner data) to `path`; the format follows the extension."""
    layer = get_layer(layer_name)
    path = Path(path)
    driver = DRIVERS.get(path.suffix.lower())
    if driver is None:
        raise FileFormatError(f"extension « {path.suffix} » non prise en charge à l'export ({', '.join(DRIVERS)})")
    target = parse_crs(crs)
    srid = srid_of(target)
    if srid is None:
        raise CRSError(f"SCR d'export sans code EPSG : {crs}")
    where = sql.SQL("")
    params: list[object] = []
    if plan_code:
        if not layer.plan_bound:
            raise FileFormatError(f"la couche {layer.name} n'a pas de versions de plan : retirez --plan")
        where = sql.SQL(" WHERE t.plan_id = %s")
        params.append(get_plan(conn, plan_code)["id"])
    selected = []
    for col in layer.columns:
        if col.type == "landref":
            selected.append(sql.SQL("COALESCE(t.land_ref, 'non immatriculé')"))
        else:
            selected.append(sql.SQL("t.{}").format(sql.Identifier(col.name)))
    extra = ["id"]
    selected.append(sql.SQL("t.id"))
    if layer.plan_bound:
        extra.append("plan_code")
        selected.append(sql.SQL("(SELECT code FROM plans p WHERE p.id = t.plan_id)"))
    if layer.name == "parcels":
        extra.append("area_m2")
        selected.append(sql.SQL("round(t.area_m2::numeric, 2)::float8"))
    geom = sql.SQL("ST_AsBinary(t.geom)") if srid == 26191 else sql.SQL("ST_AsBinary(ST_Transform(t.geom, {}))").format(
        sql.Literal(srid))
    query = sql.SQL("SELECT {cols}, {geom} FROM {table} t{where} ORDER BY t.id").format(
        cols=sql.SQL(", ").join(selected), geom=geom, table=sql.Identifier(layer.table), where=where)
    rows = conn.execute(query, params).fetchall()
    short = driver == "ESRI Shapefile"
    names = [c.short if short else c.name for c in layer.columns] + [
        {"plan_code": "plan_code", "area_m2": "area_m2", "id": "source_id"}[e] for e in extra]
    types = [c.type for c in layer.columns] + ["text" if e == "plan_code" else "float" for e in extra]
    records = {name: [export_value(r[i], types[i]) for r in rows] for i, name in enumerate(names)}
    geoms = shapely.from_wkb([r[-1] for r in rows]) if rows else []
    frame = gpd.GeoDataFrame(records, geometry=list(geoms), crs=target.to_wkt())
    if path.exists():
        path.unlink()
        for sidecar in (".shx", ".dbf", ".prj", ".cpg"):
            path.with_suffix(sidecar).unlink(missing_ok=True)
    pyogrio.write_dataframe(frame, path, driver=driver, layer=layer.name if driver == "GPKG" else None,
                            promote_to_multi=layer.geometry == "polygon")
    return len(rows)
