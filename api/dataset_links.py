"""What every machine-readable description of a dataset links to and says alike (Records, DCAT, ISO 19139).

The addresses are built from the configured public URL (`site`), never the request's Host: the dataset's page
(/donnees/<id>), its downloads (/donnees/<id>/telecharger?format=…&crs=…, each format in each CRS), its ISO 19139
metadata and the DCAT catalogue. Pure: no database, no Flask.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from urllib.parse import quote, urlencode

from layers import open_data
from layers.datasets import Dataset

EU_FILE_TYPE = "http://publications.europa.eu/resource/authority/file-type/"


@dataclass(frozen=True)
class Format:
    """A download format as the descriptions name it: its parameter, name and EU file-type code (DCAT-AP); its
    media type is the downloader's own (layers/open_data.FORMATS)."""

    code: str
    name: str
    eu_type: str

    @property
    def media_type(self) -> str:
        """The media type the download is sent with."""
        return open_data.FORMATS[self.code].media_type


# What the descriptions say of each format and CRS the downloader offers (layers/open_data: FORMATS, CRS_CHOICES):
# the lists follow it, so a link never names a format or a CRS that is not served (a new one without its name here
# fails at import).
_NAMES = {"gpkg": ("GeoPackage", "GPKG"), "geojson": ("GeoJSON", "GEOJSON"), "csv": ("CSV (géométrie en WKT)", "CSV"),
          "shp": ("Shapefile (ZIP)", "SHP")}
_CRS_NAMES = {26191: "Merchich / Nord Maroc (EPSG:26191)", 4326: "WGS 84 (EPSG:4326)"}
FORMATS = tuple(Format(code, *_NAMES[code]) for code in open_data.FORMATS)
DOWNLOAD_CRS = tuple((str(code), _CRS_NAMES[code]) for code in open_data.CRS_CHOICES)
ISO_MEDIA_TYPE = "application/vnd.iso.19139+xml"
JSONLD = "application/ld+json"


def page_url(site: str, dataset_id: str) -> str:
    """The dataset's page (for a person)."""
    return f"{site}/donnees/{quote(dataset_id)}"


def download_url(site: str, dataset_id: str, fmt: str, crs: str) -> str:
    """One download of the dataset: a format in a CRS."""
    return f"{page_url(site, dataset_id)}/telecharger?{urlencode({'format': fmt, 'crs': crs})}"


def iso_url(site: str, dataset_id: str) -> str:
    """The dataset's ISO 19139 metadata record."""
    return f"{page_url(site, dataset_id)}/metadonnees.xml"


def dcat_url(site: str) -> str:
    """The whole catalogue in DCAT (JSON-LD)."""
    return f"{site}/donnees/catalogue.jsonld"


def downloads(site: str, dataset: Dataset) -> list[tuple[Format, str, str, str]]:
    """(format, crs code, crs label, address) of every download of the dataset."""
    return [(f, code, crs_label, download_url(site, dataset.id, f.code, code))
            for f in FORMATS for code, crs_label in DOWNLOAD_CRS]


def validity(dataset: Dataset) -> tuple[date | None, date | None] | None:
    """A plan version's validity (start, end, open ends as None); None for a dataset without one."""
    plan = dataset.plan or {}
    start, end = plan.get("valid_from"), plan.get("valid_to")
    if start is None and end is None:
        return None
    return start, end


def iso_text(value: date | datetime | None) -> str | None:
    """A date or a time as ISO 8601 text (a time in UTC with its Z when it has a zone)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value.isoformat()


def extent_polygon(extent: list[float] | None) -> dict | None:
    """The CRS84 box as a GeoJSON polygon (None without extent)."""
    if not extent:
        return None
    x0, y0, x1, y1 = extent
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


def extent_wkt(extent: list[float]) -> str:
    """The CRS84 box as WKT (DCAT's dcat:bbox)."""
    x0, y0, x1, y1 = extent
    return f"POLYGON(({x0} {y0}, {x1} {y0}, {x1} {y1}, {x0} {y1}, {x0} {y0}))"
