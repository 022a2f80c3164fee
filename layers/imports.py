"""File imports (Shapefile, GeoPackage, GeoJSON, DXF) into any layer: all or nothing, with a summary.

Steps: read the file (pyogrio) → map attributes → check geometries (repair on request) → check the CRS
against the coordinates → reproject to EPSG:26191 → one transaction: provenance row, COPY, commune
assignment, plan perimeter. Any error before COMMIT leaves the database as it was.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import numpy as np
import psycopg
import pyogrio
import shapely
from psycopg import errors as pgerrors
from psycopg import sql
from psycopg.types.json import Jsonb
from pyproj import CRS
from tqdm import tqdm

from gis.crs import STORAGE_SRID, check_extent, crs_label, parse_crs, reproject
from gis.errors import Conflict, CRSError, FileFormatError, GeometryError, InputError, UrbasigError
from gis.geometry import KIND_TYPES, CheckReport, closed_lines_to_polygons, describe_problems, to_ewkb_hex
from gis.geometry import check_geometries as check_geoms
from gis.landref import parse_land_ref
from layers.bulk import bulk_deferral, copy_rows, estimated_rows
from layers.catalog import Column, Layer, get_layer
from layers.constraints import check_rows, check_unique_codes, check_unique_titles
from layers.mapping import Mapping
from layers.plans import create_plan, ensure_perimeter, get_plan
from layers.provenance import code_version

SUFFIXES = {".shp": "Shapefile", ".gpkg": "GeoPackage", ".geojson": "GeoJSON", ".json": "GeoJSON",
            ".dxf": "DXF", ".zip": "Shapefile zippé"}
STORAGE_CRS = parse_crs(STORAGE_SRID)
DEFER_INDEX_MIN_ROWS = 10_000
log = logging.getLogger(__name__)


@dataclass
class ImportRequest:
    """What to import, where, and how."""

    path: Path
    layer: str
    mapping: Mapping | None = None
    source_layer: str | None = None
    crs: str | None = None
    plan_code: str | None = None
    repair: bool = False
    dry_run: bool = False
    max_features: int = 5_000_000
    limit_setting: str = "URBASIG_IMPORT_MAX_FEATURES"  # the setting of max_features, named by its refusal
    repair_hint: str = "--repair tente de réparer les géométries invalides"  # how the caller asks for a repair


@dataclass
class ImportResult:
    """What an import wrote (or would have written, for a dry run)."""

    layer: str
    count: int
    source_layer: str
    source_crs: str
    import_id: int | None = None
    plan_code: str | None = None
    repaired: list[tuple[int, str]] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)
    seconds: float = 0.0
    dry_run: bool = False

    def describe(self) -> str:
        """A French summary for the command line."""
        rate = self.count / self.seconds if self.seconds else 0
        verb = "seraient importées (essai à blanc, rien n'a été écrit)" if self.dry_run else "importées"
        lines = [f"{self.count} entité(s) {verb} dans « {self.layer} » depuis la couche « {self.source_layer} » "
                 f"({self.source_crs}) en {self.seconds:.1f} s ({rate:,.0f} ent./s)".replace(",", " ")]
        if self.plan_code:
            lines.append(f"version de plan : {self.plan_code}")
        if self.import_id:
            lines.append(f"import n° {self.import_id}")
        if self.repaired:
            lines.append(f"{len(self.repaired)} géométrie(s) réparée(s) : {describe_problems(self.repaired)}")
        if self.skipped:
            lines.append(f"{len(self.skipped)} entité(s) ignorée(s) : {describe_problems(self.skipped)}")
        return "\n".join(lines)


@dataclass
class Source:
    """A file layer read into memory."""

    layer_name: str
    crs_text: str | None
    geoms: np.ndarray
    fields: dict[str, np.ndarray]
    driver: str


def _step(progress: bool, message: str) -> None:
    if progress:
        tqdm.write(f"urbasig : {message}")


# GDAL never goes on the network for us: a GeoJSON `"crs": {"type": "link"}` member, a /vsicurl/ path or an
# http URL would make the server fetch what a file names (and wait on it). Every HTTP request of GDAL goes to a
# proxy on the closed port 9 of this machine (refused at once, no retry), and /vsicurl/ allows no file at all.
OFFLINE_GDAL = {"GDAL_HTTP_PROXY": "127.0.0.1:9", "GDAL_HTTPS_PROXY": "127.0.0.1:9", "GDAL_HTTP_TIMEOUT": "1",
                "GDAL_HTTP_CONNECTTIMEOUT": "1", "GDAL_HTTP_MAX_RETRY": "0", "GDAL_HTTP_NETRC": "NO",
                "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".urbasig-aucun", "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR"}


def offline_gdal() -> None:
    """Set the GDAL options that keep it off the network (process-wide, idempotent): before any GDAL open."""
    pyogrio.set_gdal_config_options(OFFLINE_GDAL)


def read_source(path: Path, source_layer: str | None = None, max_features: int | None = None,
                limit_setting: str = "URBASIG_IMPORT_MAX_FEATURES") -> Source:
    """Read one layer of a vector file; unreadable, truncated or unknown layers become FileFormatError.

    With `max_features`, a layer that says it holds more is refused before it is read (a small zip can hold
    millions of features: they would be in memory before the count could be checked).

    GDAL is kept off the network (offline_gdal) and its text goes to the log, never into the message: a
    RequestTimeout (or any error of ours) raised while reading passes through untouched.
    """
    path = Path(path)
    offline_gdal()
    if path.suffix.lower() in (".geojson", ".json") and path.exists():
        _check_geojson_crs(path)
    if not path.exists():
        raise FileFormatError(f"fichier introuvable : {path}")
    if path.suffix.lower() not in SUFFIXES:
        raise FileFormatError(f"format non pris en charge : « {path.suffix} » (formats : "
                              f"{', '.join(sorted(set(SUFFIXES.values())))})")
    try:
        layers = [str(name) for name, _ in pyogrio.list_layers(path)]
    except UrbasigError:  # the request's time budget (RequestTimeout), raised by the watchdog while GDAL ran
        raise
    except Exception as exc:  # pyogrio raises DataSourceError and friends
        raise _unreadable(path, exc) from exc
    if source_layer is None:
        if len(layers) != 1:
            raise FileFormatError(f"{path.name} contient {len(layers)} couches : choisissez-en une avec "
                                  f"--source-layer ({', '.join(layers)})")
        source_layer = layers[0]
    elif source_layer not in layers:
        raise FileFormatError(f"couche « {source_layer} » absente de {path.name} (couches : {', '.join(layers)})")
    if max_features is not None:
        _check_count(path, source_layer, max_features, limit_setting)
    try:
        meta, _fids, wkb, field_data = pyogrio.raw.read(path, layer=source_layer)
        geoms = shapely.from_wkb(wkb, on_invalid="raise") if wkb is not None else np.full(len(field_data[0]), None)
    except UrbasigError:
        raise
    except Exception as exc:
        raise _unreadable(path, exc) from exc
    names = list(meta["fields"])
    return Source(layer_name=source_layer, crs_text=meta.get("crs"), geoms=np.asarray(geoms, dtype=object),
                  fields=dict(zip(names, field_data, strict=True)), driver=meta.get("driver") or "")


def _check_count(path: Path, source_layer: str, max_features: int, limit_setting: str) -> None:
    """Refuse a layer whose declared count passes the limit (-1, unknown without a full read: checked after)."""
    try:
        declared = int(pyogrio.read_info(path, layer=source_layer).get("features") or -1)
    except UrbasigError:
        raise
    except Exception as exc:
        raise _unreadable(path, exc) from exc
    if declared > max_features:
        raise InputError(too_many(declared, max_features, limit_setting))


def too_many(n: int, max_features: int, limit_setting: str) -> str:
    """The refusal of a file with more features than the limit."""
    return f"{n} entités : au-delà de la limite de {max_features} ({limit_setting})"


GEOJSON_CRS_CHECK_MAX_BYTES = 64 * 1024 * 1024


def _check_geojson_crs(path: Path) -> None:
    """Refuse a GeoJSON whose `crs` member is a link or an unknown name (GDAL would read it as WGS 84).

    The file is parsed in Python up to 64 MiB (larger ones rely on GDAL being offline and on check_extent)."""
    from gis.geojson_file import file_crs
    from gis.jsontext import parse_json

    if path.stat().st_size > GEOJSON_CRS_CHECK_MAX_BYTES:
        return
    doc = parse_json(path.read_bytes().removeprefix(b"\xef\xbb\xbf"), 256, f"fichier {path.name}", FileFormatError)
    if isinstance(doc, dict) and doc.get("crs") is not None:
        file_crs(doc["crs"])


def _unreadable(path: Path, exc: BaseException) -> FileFormatError:
    """The refusal of a file GDAL cannot read: its name only, the driver's (English) text goes to the log."""
    log.info("GDAL ne lit pas %s : %s", path, _first_line(exc))
    return FileFormatError(f"fichier illisible ou tronqué : {path.name} n'est pas un fichier vectoriel lisible "
                           "(Shapefile, GeoPackage, GeoJSON, DXF) ou il est incomplet ; ré-exportez-le depuis votre "
                           "logiciel SIG")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


# ------------------------------------------------------------------------------------ attribute values
def _is_null(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if isinstance(value, np.datetime64) and np.isnat(value):
        return True
    return isinstance(value, str) and value.strip() == ""


_TRUE = {"1", "true", "vrai", "oui", "o", "yes", "y", "t"}
_FALSE = {"0", "false", "faux", "non", "n", "no", "f"}


INT64 = (-(2 ** 63), 2 ** 63 - 1)  # what PostgreSQL's bigint (and a partner layer's « int ») holds


def _number(value: object) -> float:
    try:
        return float(str(value).replace(",", ".").replace(" ", "")) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise ValueError("nombre attendu") from None


def _to_float(value: object) -> float:
    number = _number(value)
    if not math.isfinite(number):
        raise ValueError("nombre infini")
    return number


def _to_int(value: object) -> int:
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        whole = int(value)  # exact, even past 2⁵³
    else:
        text = value.strip().replace(" ", "") if isinstance(value, str) else None
        if text is not None and text.lstrip("+-").isdigit():
            whole = int(text)
        else:
            number = _number(value)
            if not math.isfinite(number) or number != int(number):
                raise ValueError(f"entier attendu, reçu {value}")
            whole = int(number)
    if not INT64[0] <= whole <= INT64[1]:
        raise ValueError("entier hors des bornes (de −9,2 × 10¹⁸ à 9,2 × 10¹⁸)")
    return whole


def _to_storeys(value: object) -> int:
    """Storeys above the ground floor: "R" or "RDC" is 0, "R+4" is 4."""
    text = str(value).strip().upper().replace(" ", "")
    if text in ("R", "RDC"):
        return 0
    return int(float(text.removeprefix("R+")))


def _to_bool(value: object) -> bool:
    if isinstance(value, bool | int):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"oui/non attendu, reçu « {value} »")


def _to_date(value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()[:10]
    if "/" in text:
        return datetime.strptime(text, "%d/%m/%Y").date()
    return date.fromisoformat(text)


def _to_datetime(value: object) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value).strip())


def _to_list(value: object) -> list[str]:
    if isinstance(value, list | tuple):
        return [str(v).strip() for v in value if str(v).strip()]
    return [part.strip() for part in str(value).replace("|", ";").split(";") if part.strip()]


def _to_json(value: object) -> Jsonb:
    return Jsonb(json.loads(value) if isinstance(value, str) else value)


_CONVERTERS: dict[str, Callable[[object], object]] = {
    "text": lambda value: str(value).strip(),
    "float": _to_float,
    "int": _to_int,
    "rplus": _to_storeys,
    "bool": _to_bool,
    "date": _to_date,
    "datetime": _to_datetime,
    "text[]": _to_list,
    "json": _to_json,
    "landref": lambda value: parse_land_ref(str(value)),
}


def convert_value(value: object, col: Column) -> object:
    """Convert one source value to the column's type; raise ValueError with a French reason."""
    if _is_null(value):
        return None
    if isinstance(value, np.generic):
        value = value.item()
    convert = _CONVERTERS.get(col.type)
    if convert is None:
        raise ValueError(f"type inconnu {col.type}")
    return convert(value)


def _fast_column(raw: np.ndarray, type_: str) -> list[object] | None:
    """Vectorised conversion of the common cases (numbers from numeric fields, plain text); None otherwise."""
    if type_ == "float" and raw.dtype.kind in "fiu":
        values = raw.astype(float)
        if not np.isfinite(values[~np.isnan(values)]).all():
            return None
        return [None if v != v else v for v in values.tolist()]
    if type_ == "text" and raw.dtype == object:
        out = []
        for v in raw.tolist():
            if v is None:
                out.append(None)
            elif isinstance(v, str):
                v = v.strip()
                out.append(v or None)
            else:
                return None
        return out
    return None


def _convert_column(raw: np.ndarray, col: Column, table: dict[str, object], defaults: dict[str, object],
                    problems: list[tuple[int, str]]) -> list[object]:
    """Convert a column value by value, collecting problems with their feature numbers."""
    converted: list[object] = []
    for i, value in enumerate(raw.tolist()):
        if table and not _is_null(value):
            value = table.get(str(value), value)
        if _is_null(value) and col.name in defaults:
            value = defaults[col.name]
        try:
            converted.append(convert_value(value, col))
        except (ValueError, TypeError, InputError) as exc:
            reason = exc.message if isinstance(exc, InputError) else str(exc)
            problems.append((i + 1, f"{col.name} = « {value} » : {reason}"))
            converted.append(None)
    return converted


def resolve_fields(layer: Layer, source: Source, mapping: Mapping | None) -> dict[str, str]:
    """Target column → source field: from the mapping, else by same (or Shapefile short) name."""
    available = {name.lower(): name for name in source.fields}
    resolved: dict[str, str] = {}
    if mapping and mapping.fields:
        for target, src in mapping.fields.items():
            col = layer.column(target)
            if src not in source.fields:
                match = available.get(src.lower())
                if match is None:
                    raise FileFormatError(
                        f"le fichier de correspondance nomme le champ « {src} » (pour {col.name}), absent de la "
                        f"couche « {source.layer_name} » (champs : {', '.join(source.fields) or 'aucun'})")
                src = match
            resolved[col.name] = src
    else:
        for col in layer.columns:
            for candidate in (col.name, col.short):
                if candidate.lower() in available:
                    resolved[col.name] = available[candidate.lower()]
                    break
    return resolved


def build_columns(layer: Layer, source: Source, mapping: Mapping | None, n: int) -> dict[str, list[object]]:
    """Converted values for every mapped or defaulted column; all conversion errors at once."""
    resolved = resolve_fields(layer, source, mapping)
    defaults = dict(mapping.defaults) if mapping else {}
    values_maps = mapping.values if mapping else {}
    for target in list(defaults) + list(values_maps):
        layer.column(target)
    out: dict[str, list[object]] = {}
    problems: list[tuple[int, str]] = []
    for col in layer.columns:
        src = resolved.get(col.name)
        if src is None and col.name not in defaults:
            continue
        raw = source.fields[src] if src is not None else np.full(n, None, dtype=object)
        table = values_maps.get(col.name, {})
        fast = None if (table or col.name in defaults) else _fast_column(raw, col.type)
        if fast is not None:
            out[col.name] = fast
        else:
            out[col.name] = _convert_column(raw, col, table, defaults, problems)
        if col.type == "landref":  # keep the reference as written in the source
            out["ref_text"] = [None if _is_null(v) else str(v).strip() for v in raw]
    missing = [c.name for c in layer.columns if c.required and c.name not in out]
    if missing:
        raise FileFormatError(
            f"attribut(s) obligatoire(s) sans source : {', '.join(missing)} ; indiquez-les dans [fields] ou "
            f"[defaults] du fichier de correspondance (champs du fichier : {', '.join(source.fields) or 'aucun'})")
    for col in layer.columns:
        if col.required:
            problems += [(i + 1, f"{col.name} manquant") for i, v in enumerate(out[col.name]) if v is None]
    if problems:
        problems.sort()
        raise InputError(f"{len(problems)} valeur(s) d'attribut invalide(s) : {describe_problems(problems)}",
                         detail=problems[:100])
    return out


# ------------------------------------------------------------------------------------------ the import
def resolve_crs(source: Source, declared: str | None):
    """The CRS of the coordinates: the file's, else the declared one, else a clear refusal."""
    if source.crs_text:
        file_crs = parse_crs(source.crs_text)
        if declared and parse_crs(declared) != file_crs:
            raise CRSError(f"le fichier déclare {crs_label(file_crs)} mais --crs indique "
                           f"{crs_label(parse_crs(declared))} : retirez --crs ou corrigez le fichier")
        return file_crs
    if declared:
        return parse_crs(declared)
    raise CRSError("le fichier ne déclare pas de système de coordonnées (pas de .prj, DXF…) : "
                   "indiquez-le avec --crs (ex. --crs EPSG:26191 pour Merchich / Nord Maroc)")


def _plan_for(conn: psycopg.Connection, layer: Layer, request: ImportRequest, import_id: int | None,
              columns: dict[str, list[object]]) -> dict | None:
    """The plan version the features go to: an existing one (--plan, or [plan] with only its code) or a new
    one described in [plan]; never a layer the version already has."""
    if not layer.plan_bound:
        if request.plan_code or (request.mapping and request.mapping.plan):
            raise InputError(f"la couche {layer.name} n'appartient pas à un plan : retirez --plan / [plan]")
        return None
    spec = dict(request.mapping.plan) if request.mapping and request.mapping.plan else None
    if spec and request.plan_code and request.plan_code != spec.get("code"):
        raise InputError(f"--plan {request.plan_code} contredit [plan] code = {spec.get('code')} du fichier "
                         "de correspondance")
    if spec and set(spec) != {"code"}:
        create_plan(conn, spec, import_id)
        plan = get_plan(conn, spec["code"])
    elif spec or request.plan_code:
        plan = get_plan(conn, spec["code"] if spec else request.plan_code)
    else:
        raise InputError(f"la couche {layer.name} appartient à une version de plan : indiquez --plan CODE (version "
                         "existante) ou une section [plan] dans le fichier de correspondance")
    if plan["kind"] not in layer.plan_kinds:
        raise InputError(f"le plan {plan['code']} est de nature {plan['kind']} ; la couche {layer.name} "
                         f"attend : {', '.join(layer.plan_kinds)}")
    _never_overwrite(conn, layer, plan, columns)
    return plan


def _never_overwrite(conn: psycopg.Connection, layer: Layer, plan: dict, columns: dict[str, list[object]]) -> None:
    """A version's features are never written over: a layer (or a prescription kind) it has is refused."""
    conn.execute("SELECT 1 FROM plans WHERE id = %s FOR UPDATE", (plan["id"],))  # one import at a time per version
    new_version = ("une version de plan ne s'écrase jamais : pour la modifier, importez une nouvelle version sous "
                   "un nouveau code, avec « replaces »")
    if layer.name == "prescriptions":
        kinds = sorted({k for k in columns.get("kind", []) if k})
        present = [r[0] for r in conn.execute("SELECT DISTINCT kind FROM prescriptions WHERE plan_id = %s "
                                              "AND kind = ANY(%s) ORDER BY 1", (plan["id"], kinds))]
        if present:
            others = [k for k in kinds if k not in present]
            raise Conflict(f"le plan {plan['code']} a déjà des prescriptions de nature {', '.join(present)} : "
                           f"{new_version}" + (f" ; les natures qu'il n'a pas encore ({', '.join(others)}) "
                                               "peuvent s'importer seules" if others else ""))
        return
    query = sql.SQL("SELECT count(*) FROM {} WHERE plan_id = %s").format(sql.Identifier(layer.table))
    existing = conn.execute(query, (plan["id"],)).fetchone()[0]
    if existing:
        raise Conflict(f"le plan {plan['code']} a déjà {existing} entité(s) dans « {layer.name} » : {new_version} ; "
                       "une couche qu'il n'a pas encore (prescriptions, SDAU…) peut s'y ajouter")


def _land_refs(values: list[object]) -> tuple[list[object], ...]:
    refs = values
    counts = Counter(r.normalized for r in refs if r.normalized)
    dups = sorted(ref for ref, n in counts.items() if n > 1)
    if dups:
        raise InputError(f"{len(dups)} référence(s) foncière(s) en double dans le fichier : {', '.join(dups[:10])}")
    return ([r.kind for r in refs], [r.number for r in refs], [r.suffix for r in refs])


def prepare_rows(columns: dict[str, list[object]], ewkb: np.ndarray) -> tuple[list[str], list[list[object]]]:
    """Target column names and per-column value lists, geometry last (land references split in parts)."""
    names: list[str] = []
    data: list[list[object]] = []
    for name, values in columns.items():
        if name == "land_ref":
            names += ["ref_kind", "ref_number", "ref_suffix"]
            data += list(_land_refs(values))
        else:
            names.append(name)
            data.append(values)
    names.append("geom")
    data.append(list(ewkb))
    return names, data


def _check_keys(conn: psycopg.Connection, layer: Layer, columns: dict[str, list[object]]) -> None:
    """Keys the table already holds: titles of parcels, codes of communes."""
    if layer.name == "parcels":
        check_unique_titles(conn, [r.normalized for r in columns["land_ref"]])
    elif layer.name == "communes":
        dups = sorted(c for c, n in Counter(columns["code"]).items() if n > 1)
        if dups:
            raise InputError(f"code(s) de commune en double dans le fichier : {', '.join(map(str, dups[:10]))}")
        check_unique_codes(conn, "communes", "code", columns["code"])


def _check_communes(conn: psycopg.Connection, codes: list[object]) -> None:
    wanted = {c for c in codes if c}
    if not wanted:
        return
    known = {r[0] for r in conn.execute("SELECT code FROM communes WHERE code = ANY(%s)", (list(wanted),))}
    unknown = sorted(wanted - known)
    if unknown:
        raise InputError(f"code(s) de commune inconnu(s) : {', '.join(unknown[:10])} (importez d'abord les communes)")


@dataclass
class Prepared:
    """A source read, checked and converted, ready to be written."""

    source: Source
    src_crs: CRS
    skipped: list[tuple[int, str]]
    report: CheckReport
    columns: dict[str, list[object]]
    ewkb: list[str | None]

    @property
    def n(self) -> int:
        """Number of features to write."""
        return len(self.source.geoms)


def prepare(request: ImportRequest, layer: Layer, progress: bool = False, source: Source | None = None) -> Prepared:
    """Read the file (unless `source` is it, already read) and check everything that needs no database: size,
    CRS, geometries, attributes. `layer` may be any Layer, not only one of the catalogue (a partner layer's)."""
    mapping = request.mapping
    if source is None:
        _step(progress, f"lecture de {Path(request.path).name}")
        source = read_source(request.path, request.source_layer or (mapping.source_layer if mapping else None),
                             request.max_features, request.limit_setting)
    n = len(source.geoms)
    if n == 0:
        raise FileFormatError(f"la couche « {source.layer_name} » est vide : rien à importer")
    if n > request.max_features:
        raise InputError(too_many(n, request.max_features, request.limit_setting))
    src_crs = resolve_crs(source, request.crs or (mapping.crs if mapping else None))

    skipped: list[tuple[int, str]] = []
    if source.driver == "DXF" or Path(request.path).suffix.lower() == ".dxf":
        source, skipped = _keep_drawn_shapes(source, layer)
        n = len(source.geoms)
        if n == 0:
            raise FileFormatError(f"aucune entité de type {layer.geometry} dans le dessin DXF")

    _step(progress, f"contrôle de {n} géométrie(s)")
    geoms, report = check_geoms(source.geoms, layer.geometry, repair=request.repair)
    if not report.ok:
        invalid = any("invalide" in reason for _, reason in report.problems)
        hint = f" ; {request.repair_hint}" if invalid and not request.repair else ""
        raise GeometryError(f"{len(report.problems)} géométrie(s) refusée(s) : {describe_problems(report.problems)}"
                            f"{hint}", detail=report.problems[:100])
    check_extent(tuple(shapely.total_bounds(geoms)), src_crs)
    columns = build_columns(layer, source, mapping, n)

    _step(progress, f"reprojection {crs_label(src_crs)} → EPSG:{STORAGE_SRID}" if src_crs != STORAGE_CRS
          else "coordonnées déjà en EPSG:26191")
    geoms = reproject(geoms, src_crs, STORAGE_CRS)
    check_extent(tuple(shapely.total_bounds(geoms)), STORAGE_CRS)
    return Prepared(source, src_crs, skipped, report, columns, to_ewkb_hex(geoms, STORAGE_SRID))


def record_import(conn: psycopg.Connection, layer_name: str, request: ImportRequest, prep: Prepared,
                  source_path: str | None = None) -> int:
    """The provenance row of an import (in the caller's transaction): its id, for the rows it writes."""
    mapping = request.mapping
    return conn.execute(
        "INSERT INTO imports (layer, source_path, source_layer, source_crs, options, mapping, code_version) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (layer_name, source_path or str(Path(request.path).resolve()), prep.source.layer_name,
         crs_label(prep.src_crs), Jsonb({"repair": request.repair, "crs_option": request.crs}),
         Jsonb({"fields": mapping.fields, "defaults": mapping.defaults} if mapping else {}), code_version()),
    ).fetchone()[0]


def finish_import(conn: psycopg.Connection, import_id: int, count: int, repaired: int, plan_id: int | None) -> None:
    """Close the provenance row of an import with what it wrote."""
    conn.execute("UPDATE imports SET feature_count = %s, repaired_count = %s, plan_id = %s, "
                 "finished_at = clock_timestamp() WHERE id = %s", (count, repaired, plan_id, import_id))


def _store(conn: psycopg.Connection, layer: Layer, request: ImportRequest, prep: Prepared, result: ImportResult,
           progress: bool) -> None:
    """Record the import, check what needs the database, write the rows, in one transaction (rolled back on a dry run)."""
    n = prep.n
    with conn.transaction() as tx:
        import_id = record_import(conn, layer.name, request, prep)
        plan = _plan_for(conn, layer, request, import_id, prep.columns)
        if "commune_code" in prep.columns:
            _check_communes(conn, prep.columns["commune_code"])
        names, data = prepare_rows(prep.columns, prep.ewkb)
        _check_keys(conn, layer, prep.columns)
        check_rows(conn, layer.table, names[:-1], data[:-1])  # every constraint, before writing (not geom)
        names.append("import_id")
        data.append([import_id] * n)
        if plan:
            names.append("plan_id")
            data.append([plan["id"]] * n)
        _write(conn, layer, names, data, n, progress)
        _after_write(conn, layer, import_id, plan, prep.columns)
        finish_import(conn, import_id, n, len(prep.report.repaired), plan["id"] if plan else None)
        result.import_id = None if request.dry_run else import_id
        result.plan_code = plan["code"] if plan else None
        if request.dry_run:
            raise psycopg.Rollback(tx)


@contextmanager
def _refusals(table: str) -> Iterator[None]:
    """Translate what the database refuses into our errors (the checks before writing should say it first)."""
    try:
        yield
    except pgerrors.UniqueViolation as exc:
        raise Conflict(f"import refusé, rien n'a été écrit : une entité du fichier existe déjà ou y figure deux fois "
                       f"(clé {exc.diag.constraint_name or 'unique'})") from exc
    except pgerrors.IntegrityError as exc:  # never the driver's text
        raise InputError(f"import refusé, rien n'a été écrit : une valeur viole la contrainte "
                         f"« {exc.diag.constraint_name or 'de la table'} » de {table}") from exc
    except pgerrors.DataError as exc:
        raise InputError(f"import refusé, rien n'a été écrit : une valeur n'a pas le type attendu par {table} "
                         "(nombre trop grand, texte illisible…)") from exc


def run_import(conn: psycopg.Connection, request: ImportRequest, progress: bool = False) -> ImportResult:
    """Import a file into a layer in one transaction; raise (writing nothing) on the first problem."""
    started = time.perf_counter()
    layer = get_layer(request.layer)
    mapping = request.mapping
    if mapping and mapping.layer and mapping.layer != layer.name:
        raise InputError(f"le fichier de correspondance est pour la couche « {mapping.layer} », pas « {layer.name} »")
    prep = prepare(request, layer, progress)
    result = ImportResult(layer=layer.name, count=prep.n, source_layer=prep.source.layer_name,
                          source_crs=crs_label(prep.src_crs), repaired=prep.report.repaired, skipped=prep.skipped,
                          dry_run=request.dry_run)
    with _refusals(layer.table):
        _store(conn, layer, request, prep, result, progress)
    result.seconds = time.perf_counter() - started
    return result


def _write(conn: psycopg.Connection, layer: Layer, names: list[str], data: list[list[object]], n: int,
           progress: bool) -> None:
    """COPY the rows. A load larger than the table defers its indexes and foreign keys (as pg_restore does):
    dropped in the transaction, rebuilt once at the end, which also re-checks uniqueness and references."""
    deferred = bulk_deferral(conn, layer.table) if n >= DEFER_INDEX_MIN_ROWS and estimated_rows(
        conn, layer.table) < n else []
    for drop, _create in deferred:
        conn.execute(drop)
    copy_rows(conn, layer.table, names, zip(*data, strict=True), total=n, progress=progress)
    if deferred:
        _step(progress, "reconstruction des index et contrôle des références")
    for _drop, create in deferred:
        conn.execute(create)


def _after_write(conn: psycopg.Connection, layer: Layer, import_id: int, plan: dict | None,
                 columns: dict[str, list[object]]) -> None:
    """Fill what the file left out: the commune of each feature, the plan's perimeter."""
    if layer.name in ("parcels", "roads", "establishments") and (
            "commune_code" not in columns or any(v is None for v in columns["commune_code"])):
        conn.execute(sql.SQL(
            "UPDATE {t} AS f SET commune_code = c.code FROM communes c WHERE f.import_id = %s "
            "AND f.commune_code IS NULL AND ST_Intersects(c.geom, ST_PointOnSurface(f.geom))"
        ).format(t=sql.Identifier(layer.table)), (import_id,))
    if plan and layer.geometry == "polygon":
        ensure_perimeter(conn, plan["id"], layer.table)
    if plan and conn.execute("SELECT valid_from IS NOT NULL AND perimeter IS NULL FROM plans WHERE id = %s",
                             (plan["id"],)).fetchone()[0]:
        # a version in force without a perimeter would apply nowhere (and may just have ended the one it replaces)
        raise InputError(f"le périmètre de la version {plan['code']} est inconnu : donnez commune_codes dans [plan], "
                         "ou importez d'abord ses zones (leur contour devient le périmètre)")


def _keep_drawn_shapes(source: Source, layer: Layer) -> tuple[Source, list[tuple[int, str]]]:
    """From a CAD drawing keep the entities that can be features of the layer (texts, open lines are skipped)."""
    present = ~shapely.is_missing(source.geoms)
    geoms = source.geoms.copy()
    if layer.geometry == "polygon":
        geoms[present] = closed_lines_to_polygons(geoms[present])
    types = np.array([shapely.get_type_id(g) if g is not None else -1 for g in geoms])
    allowed = [t.value for t in KIND_TYPES.get(layer.geometry, ())] or list(range(8))
    keep = np.isin(types, allowed)
    skipped = [(int(i) + 1, "entité de dessin non retenue (texte, ligne ouverte…)") for i in np.flatnonzero(~keep)]
    fields = {name: np.asarray(values)[keep] for name, values in source.fields.items()}
    return Source(source.layer_name, source.crs_text, geoms[keep], fields, source.driver), skipped
