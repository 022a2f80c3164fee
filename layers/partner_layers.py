"""Partner layers (issue 16), the read side: which partner layers a viewer may see, and their declarations.

A partner organisation's layer lives in `partner_layers` (migration 0025), its versions in
`partner_layer_versions`, the features of every version in `partner_features` (properties as JSON of the
declared attributes). Only the version in force (`current_version`) is published. Its OGC collection is
« partenaire-<slug> »; its caches follow the layer_versions row « partner:<slug> », bumped by every change of the
layer (an upload, a new description or audience: `bump`).

Audiences (layers/datasets.Viewer.sees): « owner » — the organisation's partner accounts and keys, and
administrators; « partners » — every partner and staff; « public » — everyone (open data).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from layers.datasets import Dataset, Part, Viewer, measure_extent, table_versions

COLLECTION_PREFIX = "partenaire-"
ATTRIBUTE_TYPES = ("text", "int", "float", "bool", "date")  # what a partner file's attribute may be declared as
AUDIENCES = ("owner", "partners", "public")
GEOMETRY_KINDS = ("polygon", "line", "point")
# The licences a partner chooses from (id as stored → SPDX-like id, title, url).
LICENCES: dict[str, dict[str, str]] = {
    "CC-BY-4.0": {"id": "CC-BY-4.0", "title": "Creative Commons Attribution 4.0 International",
                  "url": "https://creativecommons.org/licenses/by/4.0/"},
    "ODbL-1.0": {"id": "ODbL-1.0", "title": "Open Data Commons Open Database License 1.0",
                 "url": "https://opendatacommons.org/licenses/odbl/1-0/"},
    "etalab-2.0": {"id": "etalab-2.0", "title": "Licence Ouverte 2.0",
                   "url": "https://www.etalab.gouv.fr/licence-ouverte-open-licence/"},
    "usage-reserve": {"id": "usage-reserve", "title": "Usage réservé (diffusion soumise à l'accord du producteur)",
                      "url": ""},
}


@dataclass(frozen=True)
class Attribute:
    """A declared attribute of a partner layer: its name (as in the file), type and label."""

    name: str
    type: str  # one of ATTRIBUTE_TYPES
    label: str


@dataclass(frozen=True)
class PartnerLayer:
    """One partner layer and its version in force (None before its first upload)."""

    id: int
    slug: str
    organisation: str
    title_fr: str
    title_ar: str | None
    description_fr: str
    description_ar: str
    licence: str
    audience: str  # owner, partners, public
    geometry_kind: str  # polygon, line, point
    attributes: tuple[Attribute, ...]
    current_version: int | None
    information_layer: bool
    info_label_fr: str | None
    info_label_ar: str | None
    created_at: datetime
    updated_at: datetime

    @property
    def collection_id(self) -> str:
        """Its OGC collection (and vector tile layer) name."""
        return COLLECTION_PREFIX + self.slug

    @property
    def versions_key(self) -> str:
        """Its row in layer_versions: the tiles, extents, ETags and downloads of the layer follow it."""
        return version_key(self.slug)


def version_key(slug: str) -> str:
    """The layer_versions row of a partner layer."""
    return "partner:" + slug


_COLUMNS = ("id, slug, organisation, title_fr, title_ar, description_fr, description_ar, licence, audience, "
            "geometry_kind, attributes, current_version, information_layer, info_label_fr, info_label_ar, "
            "created_at, updated_at")


def _layer(row: dict) -> PartnerLayer:
    attributes = tuple(Attribute(a["name"], a["type"], a.get("label") or a["name"]) for a in row.pop("attributes"))
    return PartnerLayer(attributes=attributes, **row)


def _audience_sql(viewer: Viewer) -> tuple[str, list[object]]:
    """The condition on partner_layers (alias l) that keeps what `viewer` may see (as Viewer.sees does)."""
    if viewer.kind == "admin":
        return "true", []
    if viewer.kind == "partner":
        return "(l.audience IN ('public', 'partners') OR l.organisation = %s)", [viewer.organisation or ""]
    return "l.audience = 'public'", []


def visible_layers(conn: psycopg.Connection, viewer: Viewer, published_only: bool = True) -> list[PartnerLayer]:
    """The partner layers `viewer` may see, by title; `published_only`: those with a version in force."""
    where, params = _audience_sql(viewer)
    if published_only:
        where += " AND l.current_version IS NOT NULL"
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(f"SELECT {_COLUMNS} FROM partner_layers l WHERE {where} ORDER BY l.title_fr, l.slug",
                           params).fetchall()
    return [_layer(r) for r in rows]


def find_layer(conn: psycopg.Connection, slug: str, viewer: Viewer, published_only: bool = True) -> PartnerLayer | None:
    """The partner layer `slug` if `viewer` may see it (None otherwise: hidden and unknown look the same)."""
    where, params = _audience_sql(viewer)
    if published_only:
        where += " AND l.current_version IS NOT NULL"
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(f"SELECT {_COLUMNS} FROM partner_layers l WHERE l.slug = %s AND {where}",
                          [slug, *params]).fetchone()
    return _layer(row) if row else None


def bump(conn: psycopg.Connection, slug: str) -> None:
    """Say that the layer changed (upload, description, audience): its caches and ETags move on."""
    conn.execute("INSERT INTO layer_versions AS lv (layer, version, changed_at) VALUES (%s, 1, clock_timestamp()) "
                 "ON CONFLICT (layer) DO UPDATE SET version = lv.version + 1, changed_at = clock_timestamp()",
                 (version_key(slug),))


def licence(code: str) -> dict[str, str]:
    """The id, title and url of a partner layer's licence (an unknown code as its own title)."""
    return LICENCES.get(code, {"id": code, "title": code, "url": ""})


def _dataset(conn: psycopg.Connection, layer: PartnerLayer) -> Dataset:
    """A partner layer as a catalogue dataset: its version in force, measured once per change of the layer."""
    version, changed = table_versions(conn, (layer.versions_key,))
    where = sql.SQL("WHERE t.layer_id = %s AND t.version = %s")
    box, count = measure_extent(conn, f"partner:{layer.slug}:{layer.current_version}", version, "partner_features",
                                where, (layer.id, layer.current_version))
    title = {"fr": layer.title_fr, "ar": layer.title_ar or layer.title_fr}
    part = Part(layer.collection_id, title, "partner_features", count=count)
    return Dataset(
        id=layer.collection_id, kind="partner", title=title,
        description={"fr": layer.description_fr, "ar": layer.description_ar or layer.description_fr},
        producer={"fr": layer.organisation, "ar": layer.organisation}, licence=licence(layer.licence),
        theme="planningCadastre", keywords=("partenaire", layer.organisation), parts=(part,),
        updated=changed or layer.updated_at, extent=box, feature_count=count,
        version_key=f"{version};v{layer.current_version}", audience=layer.audience,  # type: ignore[arg-type]
        owner_organisation=layer.organisation,
        extra={"version": layer.current_version, "geometry_kind": layer.geometry_kind,
               "attributes": [{"name": a.name, "type": a.type, "label": a.label} for a in layer.attributes],
               "information_layer": layer.information_layer})


def datasets(conn: psycopg.Connection, viewer: Viewer) -> list[Dataset]:
    """The catalogue's partner datasets `viewer` may see (layers/datasets.PROVIDERS calls this)."""
    return [_dataset(conn, layer) for layer in visible_layers(conn, viewer)]
