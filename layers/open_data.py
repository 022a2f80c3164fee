"""Open-data downloads (issue 16): a dataset of the catalogue (layers/datasets.py) written to a file, cached.

Formats: GeoPackage (one layer per part), GeoJSON (RFC 7946 in WGS 84, longitude first), CSV (geometry as WKT),
ESRI Shapefile (zipped with its .prj and .cpg; a part of mixed geometries is split into points, lines and
polygons). CRS: the storage CRS EPSG:26191 or WGS 84 (EPSG:4326). A dataset of several parts is one GeoPackage,
or for the other formats a zip of one file per part (or one part alone with `part`).

Only what a part publishes to the public is written: the columns with `Column.ogc == "public"` of the layer
catalogue (never `address`, never owners), each feature's id and its geometry. Where a part's features come from
is `DOWNLOAD_SOURCES[part.table]` (partner layers register theirs, on table `partner_features`). Features are read
with a server-side cursor, `BATCH_ROWS` at a time: no table is ever loaded whole in Python.

A file is kept under the cache directory, keyed by the dataset's `version_key`, format, CRS and part: it is built
in a temporary file and renamed into place (a reader never sees half a file), older versions of it are removed,
and the next download of the same data is a plain file send.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import geopandas as gpd
import pandas as pd
import psycopg
import pyogrio
import shapely
from psycopg import sql

from gis.errors import InputError, NotFound
from layers.catalog import CATALOGUE, Layer
from layers.datasets import Dataset, Part
from layers.exports import export_value

BATCH_ROWS = 2000  # rows per fetch of the server-side cursor, and per append to the file
FORMAT_VERSION = "1"  # part of every cache key: raise it when the files written change for the same data
GEOJSON_DIGITS = {26191: 3, 4326: 8}  # millimetres; 1e-8 degree (about a millimetre)
CRS_CHOICES = (26191, 4326)


@dataclass(frozen=True)
class Format:
    """A download format: its GDAL driver (None: written here), file extension and media type."""

    driver: str | None
    extension: str
    media_type: str


FORMATS = {
    "gpkg": Format("GPKG", "gpkg", "application/geopackage+sqlite3"),
    "geojson": Format(None, "geojson", "application/geo+json"),
    "csv": Format("CSV", "csv", "text/csv"),  # Flask adds « ; charset=utf-8 »
    "shp": Format("ESRI Shapefile", "shp", "application/zip"),
}


@dataclass(frozen=True)
class Field:
    """An attribute written to the file: its name, Shapefile name (≤ 10 characters), catalogue type and SQL
    expression (on alias t, the plan version as p)."""

    name: str
    short: str
    type: str  # text, int, float, bool, date, datetime, text[], json, rplus, landref
    expr: str


@dataclass(frozen=True)
class Source:
    """Where a part's features come from: FROM and WHERE (bound values in `params`), fields and geometry."""

    from_: sql.Composable
    where: tuple[sql.Composable, ...]  # conditions, all met
    params: tuple
    fields: tuple[Field, ...]
    geom: str  # SQL of the geometry, in EPSG:26191
    geometry: str  # polygon, line, point, multipoint or any
    order: str  # SQL of the feature id (the order of the file)


# A part's source by its table: fn(conn, part) -> Source. Catalogue layers and plan parts are registered below;
# a partner layer's module registers `partner_features`.
DOWNLOAD_SOURCES: dict[str, Callable[[psycopg.Connection, Part], Source]] = {}


# ---------------------------------------------------------------------------------------------------- sources

def shapefile_names(names: list[str]) -> list[str]:
    """Unique names of at most 10 characters (a Shapefile's limit), in the same order."""
    out: list[str] = []
    for name in names:
        short, n = name[:10], 1
        while short in out:
            suffix = str(n)
            short, n = name[:10 - len(suffix)] + suffix, n + 1
        out.append(short)
    return out


def public_fields(layer: Layer) -> tuple[Field, ...]:
    """The fields of a catalogue layer's open data: its id, then every column it publishes to the public."""
    columns = [c for c in layer.fields if c.ogc == "public"]
    names = [c.name for c in columns]
    fields = [(c.name, c.short or c.name, c.type, c.expr or f"t.{c.name}") for c in columns]
    if layer.id_column not in names:
        fields.insert(0, (layer.id_column, layer.id_column, "int", f"t.{layer.id_column}"))
    shorts = shapefile_names([f[1] for f in fields])
    return tuple(Field(name, short, type_, expr) for (name, _, type_, expr), short in zip(fields, shorts, strict=True))


def _layer_of(part: Part) -> Layer:
    layer = CATALOGUE.get(part.collection)
    if layer is None or layer.table != part.table:
        raise LookupError(f"partie sans couche du catalogue : {part.collection}")
    return layer


def catalogue_source(conn: psycopg.Connection, part: Part) -> Source:
    """A catalogue layer's features (a plan version's part: only those of its plan)."""
    layer = _layer_of(part)
    clauses: list[sql.Composable] = []
    params: list[object] = []
    if layer.where:
        clauses.append(sql.SQL(layer.where))
    if part.plan_id is not None:
        clauses.append(sql.SQL("t.plan_id = %s"))
        params.append(part.plan_id)
    table = sql.Identifier(layer.table)
    from_ = sql.SQL("{} t JOIN plans p ON p.id = t.plan_id").format(table) if layer.plan_bound else sql.SQL(
        "{} t").format(table)
    return Source(from_, tuple(clauses), tuple(params), public_fields(layer), f"t.{layer.geom_column}", layer.geometry,
                  f"t.{layer.id_column}")


def register_catalogue_sources() -> None:
    """Register `catalogue_source` for the table of every layer of the open-data catalogue."""
    from layers.datasets import LAYER_METADATA

    for name in LAYER_METADATA:
        if name in CATALOGUE:
            DOWNLOAD_SOURCES[CATALOGUE[name].table] = catalogue_source


register_catalogue_sources()

# A partner attribute's declared type (layers/partner_layers.ATTRIBUTE_TYPES) → its SQL cast from the JSON text:
# the values were checked against the type at upload, so the casts cannot fail.
_PARTNER_CASTS = {"text": "", "int": "::bigint", "float": "::double precision", "bool": "::boolean", "date": "::date"}


def partner_source(conn: psycopg.Connection, part: Part) -> Source:
    """A partner layer's features of its version in force: its id, then every declared attribute with its type.

    The dataset was already found for its viewer (datasets.get_dataset): the layer is read here whatever its
    audience."""
    from layers.datasets import Viewer
    from layers.partner_layers import COLLECTION_PREFIX, find_layer

    layer = find_layer(conn, part.collection.removeprefix(COLLECTION_PREFIX), Viewer(kind="admin"))
    if layer is None or not part.collection.startswith(COLLECTION_PREFIX):
        raise LookupError(f"partie sans couche de partenaire : {part.collection}")
    taken = {a.name.lower() for a in layer.attributes}  # none is reserved since uploads refuse them (older may be)
    id_name = next(n for n in ("id", "fid", "feature_id", "_id") if n not in taken)
    fields = [(id_name, "int", "t.id")]
    for attribute in layer.attributes:
        key = sql.Literal(attribute.name).as_string(conn)
        fields.append((attribute.name, attribute.type,
                       f"(t.properties->>{key}){_PARTNER_CASTS.get(attribute.type, '')}"))
    shorts = shapefile_names([f[0] for f in fields])
    kind = layer.geometry_kind
    if kind == "point" and conn.execute("SELECT EXISTS (SELECT 1 FROM partner_features WHERE layer_id = %s AND "
                                        "version = %s AND GeometryType(geom) = 'MULTIPOINT')",
                                        (layer.id, layer.current_version)).fetchone()[0]:
        kind = "multipoint"  # a point layer may hold multipoints (the import accepts them): a file of one type
    return Source(sql.SQL("partner_features t"), (sql.SQL("t.layer_id = %s AND t.version = %s"),),
                  (layer.id, layer.current_version),
                  tuple(Field(name, short, type_, expr) for (name, type_, expr), short in zip(fields, shorts, strict=True)),
                  "t.geom", kind, "t.id")


DOWNLOAD_SOURCES["partner_features"] = partner_source


def source_of(conn: psycopg.Connection, part: Part) -> Source:
    """The source registered for a part's table."""
    try:
        make = DOWNLOAD_SOURCES[part.table]
    except KeyError:
        raise LookupError(f"aucune source de téléchargement pour la table {part.table}") from None
    return make(conn, part)


# ---------------------------------------------------------------------------------------------------- SQL

def _geometry_sql(source: Source, srid: int, multi: bool) -> sql.Composable:
    geom = sql.SQL(source.geom)
    if multi:
        geom = sql.SQL("ST_Multi({})").format(geom)
    if srid != 26191:
        geom = sql.SQL("ST_Transform({}, {})").format(geom, sql.Literal(srid))
    return geom


def _where_sql(source: Source) -> sql.Composable:
    return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(source.where) if source.where else sql.SQL("")


def rows_sql(source: Source, srid: int, multi: bool = False) -> sql.Composable:
    """SELECT each field, then the geometry as WKB in `srid`, in id order."""
    cols = [sql.SQL(f.expr) for f in source.fields]
    geom = sql.SQL("ST_AsBinary({})").format(_geometry_sql(source, srid, multi))
    return sql.SQL("SELECT {}, {} FROM {}{} ORDER BY {}").format(
        sql.SQL(", ").join(cols), geom, source.from_, _where_sql(source), sql.SQL(source.order))


def geojson_sql(source: Source, srid: int) -> sql.Composable:
    """SELECT each feature as GeoJSON text, built by PostGIS, in id order."""
    props = [sql.SQL("{}, {}").format(sql.Literal(f.name), sql.SQL(f.expr)) for f in source.fields]
    geom = sql.SQL("ST_AsGeoJSON({}, {}, 0)::json").format(_geometry_sql(source, srid, False),
                                                            sql.Literal(GEOJSON_DIGITS[srid]))
    return sql.SQL("SELECT json_build_object('type', 'Feature', 'id', {}, 'geometry', {}, 'properties', "
                   "json_build_object({}))::text FROM {}{} ORDER BY {}").format(
        sql.SQL(source.order), geom, sql.SQL(", ").join(props), source.from_, _where_sql(source), sql.SQL(source.order))


def _batches(conn: psycopg.Connection, query: sql.Composable, params: tuple) -> Iterator[list[tuple]]:
    """The query's rows, BATCH_ROWS at a time, from a server-side cursor (in its own transaction)."""
    with conn.transaction(), conn.cursor(name="open_data_download") as cur:
        cur.itersize = BATCH_ROWS
        cur.execute(query, params)
        while rows := cur.fetchmany(BATCH_ROWS):
            yield rows


# ---------------------------------------------------------------------------------------------------- writers

PANDAS_TYPES = {"float": "float64", "int": "Int64", "rplus": "Int64", "bool": "boolean"}
GDAL_GEOMETRY = {"polygon": "MultiPolygon", "line": "MultiLineString", "point": "Point", "multipoint": "MultiPoint",
                 "any": "Unknown"}
# A Shapefile holds one kind of geometry: a part of mixed geometries is written as one file per dimension.
SHAPEFILE_SPLIT = ((0, "points", "MultiPoint"), (1, "lignes", "MultiLineString"), (2, "polygones", "MultiPolygon"))


def _frame(rows: list[tuple], fields: tuple[Field, ...], names: list[str], srid: int) -> gpd.GeoDataFrame:
    columns = {name: pd.Series([export_value(r[i], f.type) for r in rows], dtype=PANDAS_TYPES.get(f.type, object))
               for i, (f, name) in enumerate(zip(fields, names, strict=True))}
    geoms = shapely.from_wkb([r[-1] for r in rows]) if rows else []
    return gpd.GeoDataFrame(columns, geometry=gpd.GeoSeries(list(geoms), crs=f"EPSG:{srid}"))


def write_with_gdal(conn: psycopg.Connection, source: Source, path: Path, fmt: Format, srid: int,
                    layer: str, geometry_type: str) -> int:
    """Write a source's features with GDAL (`fmt.driver`), appending batch by batch; the number written."""
    shp = fmt.driver == "ESRI Shapefile"
    names = [f.short for f in source.fields] if shp else [f.name for f in source.fields]
    options = {"ENCODING": "UTF-8"} if shp else {"GEOMETRY": "AS_WKT"} if fmt.driver == "CSV" else None
    multi = geometry_type.startswith("Multi")
    written = 0
    for rows in _batches(conn, rows_sql(source, srid, multi), source.params):
        pyogrio.write_dataframe(_frame(rows, source.fields, names, srid), path, driver=fmt.driver,
                                layer=layer if fmt.driver == "GPKG" else None, append=written > 0,
                                geometry_type=geometry_type, promote_to_multi=multi, layer_options=options)
        written += len(rows)
    if not written:  # an empty part is still a layer with its attributes
        pyogrio.write_dataframe(_frame([], source.fields, names, srid), path, driver=fmt.driver,
                                layer=layer if fmt.driver == "GPKG" else None, geometry_type=geometry_type,
                                layer_options=options)
    return written


def write_geojson(conn: psycopg.Connection, source: Source, path: Path, srid: int, name: str) -> int:
    """Write a source's features as a GeoJSON FeatureCollection streamed from PostGIS; the number written.

    In WGS 84 it is RFC 7946 (longitude, latitude; no crs member); in EPSG:26191 it names its CRS, as GDAL reads."""
    head: dict[str, object] = {"type": "FeatureCollection", "name": name}
    if srid != 4326:
        head["crs"] = {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{srid}"}}
    written = 0
    with path.open("w", encoding="utf-8") as out:
        out.write(json.dumps(head, ensure_ascii=False)[:-1] + ', "features": [\n')
        for rows in _batches(conn, geojson_sql(source, srid), source.params):
            for (feature,) in rows:
                out.write((",\n" if written else "") + feature)
                written += 1
        out.write("\n]}\n")
    return written


def write_part(conn: psycopg.Connection, source: Source, folder: Path, fmt_name: str, srid: int, name: str,
               gpkg: Path | None = None) -> list[Path]:
    """Write one part into `folder` (a GeoPackage: as layer `name` of `gpkg`); the files written."""
    fmt = FORMATS[fmt_name]
    if fmt_name == "geojson":
        path = folder / f"{name}.geojson"
        write_geojson(conn, source, path, srid, name)
        return [path]
    if fmt_name == "gpkg":
        assert gpkg is not None
        write_with_gdal(conn, source, gpkg, fmt, srid, name, GDAL_GEOMETRY[source.geometry])
        return [gpkg]
    if fmt_name == "csv":
        path = folder / f"{name}.csv"
        write_with_gdal(conn, source, path, fmt, srid, name, GDAL_GEOMETRY[source.geometry])
        return [path]
    return _write_shapefiles(conn, source, folder, srid, name)


def _write_shapefiles(conn: psycopg.Connection, source: Source, folder: Path, srid: int, name: str) -> list[Path]:
    fmt = FORMATS["shp"]
    if source.geometry != "any":
        path = folder / f"{name}.shp"
        write_with_gdal(conn, source, path, fmt, srid, name, GDAL_GEOMETRY[source.geometry])
        return [path]
    paths = []
    for dimension, suffix, geometry_type in SHAPEFILE_SPLIT:
        where = (*source.where, sql.SQL("ST_Dimension({}) = {}").format(sql.SQL(source.geom), sql.Literal(dimension)))
        path = folder / f"{name}_{suffix}.shp"
        if write_with_gdal(conn, replace(source, where=where), path, fmt, srid, name, geometry_type):
            paths.append(path)
        else:
            for sidecar in folder.glob(f"{name}_{suffix}.*"):
                sidecar.unlink()
    return paths


# ---------------------------------------------------------------------------------------------------- the cache

@dataclass(frozen=True)
class Download:
    """A file ready to send: its path in the cache, the name the person gets, its media type and ETag."""

    path: Path
    filename: str
    media_type: str
    etag: str
    built: bool  # whether this call wrote it (False: it was in the cache)


def check_request(dataset: Dataset, fmt: str | None, crs: str | None, part: str | None) -> tuple[str, int,
                                                                                                   tuple[Part, ...]]:
    """The format, SRID and parts asked for, or a French 400 that says what is accepted."""
    fmt = (fmt or "gpkg").lower()
    if fmt not in FORMATS:
        raise InputError(f"format inconnu « {fmt[:20]} » : format=gpkg, geojson, csv ou shp")
    raw = (crs or "26191").strip().upper().removeprefix("EPSG:")
    if raw not in {str(c) for c in CRS_CHOICES}:
        raise InputError(f"système de coordonnées « {(crs or '')[:30]} » non proposé : crs=26191 "
                         "(Merchich / Nord Maroc, celui du stockage) ou crs=4326 (WGS 84)")
    parts = dataset.parts
    if part:
        parts = tuple(p for p in dataset.parts if p.collection == part)
        if not parts:
            known = ", ".join(p.collection for p in dataset.parts) or "aucune"
            raise InputError(f"partie inconnue « {part[:40]} » pour ce jeu de données (parties : {known})")
    if not parts:
        raise InputError("ce jeu de données n'a aucune donnée à télécharger pour l'instant")
    return fmt, int(raw), parts


def cache_key(dataset: Dataset, fmt: str, srid: int, parts: tuple[Part, ...]) -> str:
    """The key of a download: changes with the data (`version_key`), the format, CRS, parts and writer."""
    text = "|".join((FORMAT_VERSION, dataset.id, dataset.version_key, fmt, str(srid),
                     ",".join(p.collection for p in parts)))
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _output_name(dataset: Dataset, fmt: str, parts: tuple[Part, ...], srid: int) -> tuple[str, str]:
    """(file name, media type) of the download: one file, or a zip (Shapefiles, several parts)."""
    stem = dataset.id if len(parts) == len(dataset.parts) else f"{dataset.id}-{parts[0].collection}"
    stem += f"-epsg{srid}"
    if fmt == "gpkg" or (fmt != "shp" and len(parts) == 1):
        return f"{stem}.{FORMATS[fmt].extension}", FORMATS[fmt].media_type
    return f"{stem}-{fmt}.zip", "application/zip"


def download(conn: psycopg.Connection, dataset: Dataset, cache_dir: Path, fmt: str | None = None,
             crs: str | None = None, part: str | None = None) -> Download:
    """The file of `dataset` in `fmt` and `crs` (one part with `part`), from the cache or built now."""
    fmt, srid, parts = check_request(dataset, fmt, crs, part)
    if any(p.table not in DOWNLOAD_SOURCES for p in parts):  # a provider whose source is not registered yet
        raise NotFound(f"aucun téléchargement n'est encore proposé pour « {dataset.id} » : lisez-le par l'API OGC")
    key = cache_key(dataset, fmt, srid, parts)
    filename, media_type = _output_name(dataset, fmt, parts, srid)
    folder = Path(cache_dir) / dataset.id
    target = folder / f"{key}-{filename}"
    if target.is_file():
        return Download(target, filename, media_type, key, False)
    folder.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".build-", dir=folder))
    try:
        built = _build(conn, parts, work, fmt, srid, filename)
        os.replace(built, target)  # atomic: a reader has the old file or the new one, never half of one
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for stale in folder.glob(f"*-{filename}"):
        if stale != target:
            stale.unlink(missing_ok=True)
    return Download(target, filename, media_type, key, True)


def _build(conn: psycopg.Connection, parts: tuple[Part, ...], work: Path, fmt: str, srid: int,
           filename: str) -> Path:
    """Write the parts in `work`; the one file to keep (the file itself, or a zip of the parts' files)."""
    gpkg = work / filename if fmt == "gpkg" else None
    files: list[Path] = []
    for part in parts:
        files.extend(write_part(conn, source_of(conn, part), work, fmt, srid, part.collection, gpkg))
    if gpkg is not None or (fmt != "shp" and len(files) == 1):
        return files[0]
    archive = work / filename
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for path in files:
            siblings = sorted(work.glob(path.stem + ".*")) if fmt == "shp" else [path]
            for file in siblings:
                if file != archive:
                    zipped.write(file, file.name)
    return archive


def build_all(conn: psycopg.Connection, datasets: list[Dataset], cache_dir: Path, formats: tuple[str, ...] = (),
              crs_list: tuple[str, ...] = ()) -> Iterator[str]:
    """Build every download of `datasets` not yet in the cache (`urbasig open-data-build`); a line for each."""
    for dataset in datasets:
        if not dataset.parts:
            continue
        for fmt in formats or tuple(FORMATS):
            for crs in crs_list or tuple(str(c) for c in CRS_CHOICES):
                found = download(conn, dataset, cache_dir, fmt, crs)
                state = "construit" if found.built else "déjà à jour"
                yield f"{dataset.id} {fmt} EPSG:{crs} : {state} ({found.path.stat().st_size} octets)"
