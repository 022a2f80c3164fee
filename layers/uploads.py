"""A file a planner drops on the map (GeoJSON, zipped Shapefile): read it, check it, give back its polygons.

Read with pyogrio in a private temporary directory that is removed before the answer leaves, whatever happens.
The checks are the import pipeline's (layers/imports.py, gis/geometry.py): the file's declared CRS, the
extent of the coordinates in it, invalid polygons repaired (and said so) or refused. A zip is opened member by
member with bounded reads (never trusting the sizes it declares), so a zip bomb costs at most the cap.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path, PurePosixPath

import numpy as np
import shapely

from gis.crs import STORAGE_SRID, check_extent, crs_label, parse_crs, reproject
from gis.errors import CRSError, FileFormatError, GeometryError, PayloadTooLarge
from gis.geometry import check_geometries, describe_problems
from layers.imports import Source, read_source

STORAGE_CRS = parse_crs(STORAGE_SRID)
LONLAT = parse_crs("OGC:CRS84")
SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
ASSUMED_CRS = "EPSG:26191"


@dataclass(frozen=True)
class UploadLimits:
    """Bounds on the work one dropped file may cause."""

    max_bytes: int = 5 * 1024 * 1024  # of the file as sent
    max_unzipped_bytes: int = 20 * 1024 * 1024  # of the members of a zip, all together
    max_zip_members: int = 50
    max_features: int = 500
    max_vertices: int = 10_000  # of all the polygons together (the instruction's own limit)


@dataclass
class Upload:
    """The polygons of a dropped file, merged into one land, with what was done to read them."""

    geom_26191: shapely.Geometry
    features: int
    source_crs: str
    driver: str
    notices: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        """The answer of /carte/fichier: the land in CRS84 (to draw) and in EPSG:26191 (to instruct exactly)."""
        lonlat = reproject(np.array([self.geom_26191], dtype=object), STORAGE_CRS, LONLAT)[0]
        rounded = shapely.transform(lonlat, lambda c: np.round(c, 8))
        exact = shapely.transform(self.geom_26191, lambda c: np.round(c, 3))
        return {"geometry": json.loads(shapely.to_geojson(rounded)),
                "geometry_26191": json.loads(shapely.to_geojson(exact)), "crs_26191": ASSUMED_CRS,
                "features": self.features, "area_m2": round(float(self.geom_26191.area), 2),
                "source_crs": self.source_crs, "format": self.driver, "notices": self.notices}


def _safe_name(name: str) -> PurePosixPath | None:
    """A zip member's path when it is a plain relative path (no absolute path, no « .. », no directory)."""
    path = PurePosixPath(name.replace("\\", "/"))
    if name.endswith("/") or path.is_absolute() or ".." in path.parts or not path.name:
        return None
    return path


def _bounded_read(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int) -> bytes:
    """A member's bytes, refusing as soon as more than `budget` come out (declared sizes can lie)."""
    out = BytesIO()
    with archive.open(info) as member:
        while chunk := member.read(64 * 1024):
            out.write(chunk)
            if out.tell() > budget:
                raise PayloadTooLarge("archive refusée : une fois décompressée, elle dépasse la taille permise "
                                      f"({budget // (1024 * 1024)} Mo) ; envoyez le Shapefile seul, sans autres fichiers")
    return out.getvalue()


def _shapefile_members(archive: zipfile.ZipFile, limits: UploadLimits) -> dict[str, zipfile.ZipInfo]:
    """The members of the one Shapefile of the archive, by extension; a clear refusal otherwise."""
    infos = archive.infolist()
    if len(infos) > limits.max_zip_members:
        raise FileFormatError(f"archive de {len(infos)} fichiers : au plus {limits.max_zip_members}, envoyez un "
                              "seul Shapefile (.shp, .shx, .dbf, .prj)")
    shapes: dict[str, dict[str, zipfile.ZipInfo]] = {}
    for info in infos:
        path = _safe_name(info.filename)
        if path is None or path.name.startswith(("._", ".")) or "__MACOSX" in path.parts:
            continue
        if info.flag_bits & 0x1:
            raise FileFormatError("archive chiffrée (protégée par un mot de passe) : envoyez-la sans mot de passe")
        suffix = path.suffix.lower()
        if suffix in SHAPEFILE_PARTS:
            shapes.setdefault(str(path.with_suffix("")).lower(), {})[suffix] = info
    complete = {stem: parts for stem, parts in shapes.items() if ".shp" in parts}
    if not complete:
        raise FileFormatError("l'archive ne contient pas de Shapefile (.shp) : déposez un .zip avec les fichiers "
                              ".shp, .shx, .dbf et .prj d'une même couche, ou un fichier GeoJSON")
    if len(complete) > 1:
        raise FileFormatError(f"l'archive contient {len(complete)} Shapefiles ({', '.join(sorted(complete))}) : "
                              "déposez-en un seul à la fois")
    parts = next(iter(complete.values()))
    missing = [s for s in (".shx", ".dbf") if s not in parts]
    if missing:
        raise FileFormatError(f"Shapefile incomplet : il manque {', '.join(missing)} dans l'archive")
    return parts


def _unzip_shapefile(data: bytes, folder: Path, limits: UploadLimits) -> tuple[Path, bool]:
    """Write the Shapefile of a zip into `folder`; its .shp path and whether it had a .prj."""
    try:
        archive = zipfile.ZipFile(BytesIO(data))
    except (zipfile.BadZipFile, ValueError):
        raise FileFormatError("archive .zip illisible ou tronquée : refaites-la (un .zip avec .shp, .shx, .dbf, "
                              ".prj)") from None
    with archive:
        parts = _shapefile_members(archive, limits)
        budget = limits.max_unzipped_bytes
        for suffix, info in parts.items():
            try:
                content = _bounded_read(archive, info, budget)
            except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError, ValueError) as exc:
                raise FileFormatError(f"archive .zip corrompue (membre {info.filename}) : refaites-la") from exc
            budget -= len(content)
            (folder / f"couche{suffix}").write_bytes(content)
    return folder / "couche.shp", ".prj" in parts


def _sniff(data: bytes, filename: str) -> str:
    """« zip » or « geojson », from the content first (a name can lie), else a clear refusal."""
    if data[:4] == b"PK\x03\x04" or filename.lower().endswith(".zip"):
        return "zip"
    head = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"{") or filename.lower().endswith((".geojson", ".json")):
        return "geojson"
    raise FileFormatError(f"format non pris en charge : « {filename or 'fichier'} » ; déposez un fichier GeoJSON "
                          "(.geojson) ou un Shapefile zippé (.zip avec .shp, .shx, .dbf, .prj)")


def _source_crs(source: Source, has_prj: bool, notices: list[str]):
    """The file's CRS; a Shapefile without .prj is assumed in Merchich / Nord Maroc, and the answer says so."""
    if source.crs_text:
        return parse_crs(source.crs_text)
    if not has_prj:
        notices.append("le Shapefile n'a pas de fichier .prj : ses coordonnées sont supposées en EPSG:26191 "
                       "(Merchich / Nord Maroc)")
        return STORAGE_CRS
    raise CRSError("le fichier .prj ne décrit pas un système de coordonnées connu : refaites-le (EPSG:26191 pour "
                   "Merchich / Nord Maroc)")


def _polygons(source: Source, limits: UploadLimits, notices: list[str]) -> np.ndarray:
    """The file's geometries as valid polygons (repaired when needed), or a refusal saying which and why."""
    n = len(source.geoms)
    if n == 0:
        raise FileFormatError("le fichier ne contient aucune entité : rien à superposer")
    if n > limits.max_features:
        raise PayloadTooLarge(f"{n} entités : au plus {limits.max_features} polygones par fichier")
    present = source.geoms[~shapely.is_missing(source.geoms)]
    vertices = int(shapely.get_num_coordinates(present).sum()) if len(present) else 0
    if vertices > limits.max_vertices:
        raise PayloadTooLarge(f"{vertices} sommets : au-delà de la limite de {limits.max_vertices} "
                              "(URBASIG_MAX_VERTICES) ; simplifiez les contours (10 cm de précision suffisent)")
    geoms, report = check_geometries(source.geoms, "polygon", repair=True)
    if not report.ok:
        raise GeometryError(f"le fichier doit contenir des polygones : {describe_problems(report.problems)}",
                            detail=report.problems[:20])
    if report.repaired:
        notices.append(f"{len(report.repaired)} polygone(s) invalide(s) réparé(s) : {describe_problems(report.repaired)}")
    return geoms


def read_upload(data: bytes, filename: str, limits: UploadLimits | None = None) -> Upload:
    """Read a dropped GeoJSON or zipped Shapefile into one land in EPSG:26191; nothing stays on disk."""
    limits = limits or UploadLimits()
    if not data:
        raise FileFormatError("fichier vide : déposez un GeoJSON ou un Shapefile zippé")
    if len(data) > limits.max_bytes:
        raise PayloadTooLarge(f"fichier de {len(data) / 1e6:.1f} Mo : au plus {limits.max_bytes // (1024 * 1024)} Mo")
    kind = _sniff(data, filename)
    notices: list[str] = []
    with tempfile.TemporaryDirectory(prefix="urbasig-upload-") as tmp:
        folder = Path(tmp)
        if kind == "zip":
            path, has_prj = _unzip_shapefile(data, folder, limits)
        else:
            path, has_prj = folder / "couche.geojson", True
            path.write_bytes(data)
        source = read_source(path)
    crs = _source_crs(source, has_prj, notices)
    geoms = _polygons(source, limits, notices)
    check_extent(tuple(shapely.total_bounds(geoms)), crs)
    stored = reproject(geoms, crs, STORAGE_CRS)
    check_extent(tuple(shapely.total_bounds(stored)), STORAGE_CRS)
    land = shapely.union_all(stored)
    if land.is_empty or land.area < 1.0:
        raise GeometryError("les polygones du fichier couvrent moins de 1 m² : vérifiez leur système de coordonnées")
    return Upload(land, len(geoms), crs_label(crs), "Shapefile" if kind == "zip" else "GeoJSON", notices)
