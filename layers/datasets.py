"""The open-data catalogue (issue 16): every published dataset, described from the database.

A dataset is either a **layer** of the one catalogue (layers/catalog.py: parcels, zones of every plan version,
roads…) or one **plan version** (its zones, prescriptions or SDAU areas, with its status and act). Partner layers
join through `PROVIDERS` (a function that lists the datasets a viewer may see), so the catalogue pages, the
downloads, OGC API Records and DCAT all read one list.

What a dataset says is declared here (titles and descriptions in French and Arabic, theme, keywords) or read from
the database (update date from `layer_versions`, extent, feature count, the plan's status and act). Counts and
extents are cached per process until one of the dataset's tables changes (`version_key`). Nothing here reads
owners, applicants or any column a layer does not publish to the public (`Column.ogc == "public"`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from gis.errors import NotFound
from instruction.vocabulary import label
from layers.catalog import CATALOGUE, Layer

Audience = Literal["public", "partners", "owner"]
STORAGE_CRS = "EPSG:26191"  # Merchich / Nord Maroc, the storage CRS of every layer
PRODUCER = {"fr": "Agence urbaine de Casablanca", "ar": "الوكالة الحضرية للدار البيضاء"}
# The licence of the agency's own open data (a partner chooses its own for its layers).
LICENCE = {"id": "CC-BY-4.0", "title": "Creative Commons Attribution 4.0 International",
           "url": "https://creativecommons.org/licenses/by/4.0/"}


@dataclass(frozen=True)
class Viewer:
    """Who reads the catalogue: anonymous (the public), a partner organisation's account, or an administrator."""

    kind: Literal["public", "partner", "admin"] = "public"
    account_id: int | None = None
    organisation: str | None = None

    def sees(self, audience: Audience, owner_organisation: str | None = None) -> bool:
        """Whether this viewer may see a dataset published to `audience` (by `owner_organisation`)."""
        if self.kind == "admin" or audience == "public":
            return True
        if audience == "partners":
            return self.kind == "partner"
        return self.kind == "partner" and owner_organisation is not None and self.organisation == owner_organisation


PUBLIC = Viewer()


@dataclass(frozen=True)
class Part:
    """One layer of a dataset, as an OGC collection: a plan version's dataset has one part per layer it fills.

    `cql` is the CQL2 text filter that selects the part in its collection (the plan's code) and `datetime` the
    items' datetime parameter (`../..`: every plan version, not only those in force today)."""

    collection: str
    title: dict[str, str]
    table: str
    plan_id: int | None = None
    cql: str | None = None
    datetime: str | None = None
    count: int = 0


@dataclass(frozen=True)
class Dataset:
    """A published dataset: what the catalogue page, the downloads, Records and DCAT all say of it."""

    id: str  # URL slug, stable: the layer's name, « plan-<code> », « partenaire-<slug> »
    kind: Literal["layer", "plan", "partner"]
    title: dict[str, str]  # {"fr": …, "ar": …}
    description: dict[str, str]
    producer: dict[str, str]
    licence: dict[str, str]  # id (SPDX where there is one), title, url
    theme: str  # ISO 19115 topic category (planningCadastre, boundaries, transportation, structure…)
    keywords: tuple[str, ...]
    parts: tuple[Part, ...]
    updated: datetime | None  # when its data last changed (layer_versions, or the plan's import / status)
    extent: list[float] | None  # CRS84 bounding box [minx, miny, maxx, maxy]
    feature_count: int
    version_key: str  # changes whenever its data may have changed: keys cached downloads and ETags
    crs: str = STORAGE_CRS
    audience: Audience = "public"
    owner_organisation: str | None = None
    plan: dict | None = None  # code, kind, name, status (today, with its FR/AR labels), since, act, dates
    extra: dict = field(default_factory=dict)  # provider-specific facts (a partner layer's version, …)

    @property
    def public(self) -> bool:
        """Whether anyone, signed in or not, may read and download it (open data)."""
        return self.audience == "public"


# What the code declares of each layer dataset: Arabic title and description, ISO topic category, keywords.
# Layers without an entry (a restricted register, computed layers) are not in the open-data catalogue.
LAYER_METADATA: dict[str, dict] = {
    "parcels": {
        "title_ar": "القطع الأرضية", "theme": "planningCadastre",
        "description_ar": "القطع الأرضية المسجلة (المراجع العقارية الموحدة) ومساحتها والمقاطعة التي تنتمي إليها.",
        "keywords": ("parcelles", "cadastre", "titres fonciers", "foncier")},
    "zones": {
        "title_ar": "مناطق تصاميم التهيئة", "theme": "planningCadastre",
        "description_ar": "تنطيق كل صيغة من صيغ تصاميم التهيئة مع ضوابطها: العلو، عدد الطوابق، معامل استغلال الأرض، "
                          "الارتدادات والاستعمالات.",
        "keywords": ("urbanisme", "plan d'aménagement", "zonage", "règlement")},
    "prescriptions": {
        "title_ar": "المقتضيات (الطرق، التخصيصات، الارتفاقات)", "theme": "planningCadastre",
        "description_ar": "الطرق المبرمجة وتوسيعها والتصفيفات والتخصيصات للمرافق العمومية والمساحات الخضراء "
                          "والارتفاقات.",
        "keywords": ("urbanisme", "voirie", "réserves", "servitudes", "alignements")},
    "sdau": {
        "title_ar": "تخصيص الأراضي في المخطط المديري", "theme": "planningCadastre",
        "description_ar": "تخصيص الأراضي حسب المخطط المديري للتهيئة العمرانية.",
        "keywords": ("urbanisme", "SDAU", "schéma directeur")},
    "communes": {
        "title_ar": "الجماعات والمقاطعات", "theme": "boundaries",
        "description_ar": "الحدود الإدارية للجماعات والمقاطعات والعمالات.",
        "keywords": ("limites administratives", "communes", "arrondissements")},
    "plans": {
        "title_ar": "صيغ التصاميم", "theme": "planningCadastre",
        "description_ar": "كل صيغة من صيغ وثائق التعمير مع وضعيتها القانونية ومحيطها.",
        "keywords": ("urbanisme", "plans", "statut juridique", "homologation")},
    "roads": {
        "title_ar": "الطرق الموجودة", "theme": "transportation",
        "description_ar": "حرم الطرق العمومية الموجودة وعرضها.",
        "keywords": ("voirie", "routes", "emprise")},
    "plan-impact": {
        "title_ar": "أثر مشروع التصميم", "theme": "planningCadastre",
        "description_ar": "ما سيغيره مشروع التصميم في كل قطعة: المنطقة، مساحة الطوابق القصوى، الاستعمالات والمساحات "
                          "المخصصة حديثاً.",
        "keywords": ("urbanisme", "impact", "projet de plan", "enquête publique")},
}
# The layers a plan version fills, in the order its dataset lists them.
PLAN_LAYERS = ("zones", "prescriptions", "sdau")


def _fr_ar(fr: str, ar: str) -> dict[str, str]:
    return {"fr": fr, "ar": ar}


def plan_dataset_id(code: str) -> str:
    """The slug of a plan version's dataset (« plan-pa-anfa-2015 »)."""
    return "plan-" + "".join(ch if ch.isalnum() else "-" for ch in code.lower()).strip("-")


# ---------------------------------------------------------------------------------------------------- cache

_CACHE: dict[str, tuple[str, object]] = {}


def _versions(conn: psycopg.Connection, tables: tuple[str, ...]) -> tuple[str, datetime | None]:
    row = conn.execute("SELECT COALESCE(string_agg(layer || ':' || version, ',' ORDER BY layer), ''), max(changed_at) "
                       "FROM layer_versions WHERE layer = ANY(%s)", (list(tables),), prepare=True).fetchone()
    return row[0], row[1]


def _cached(key: str, version: str, compute: Callable[[], object]) -> object:
    hit = _CACHE.get(key)
    if hit and hit[0] == version:
        return hit[1]
    value = compute()
    _CACHE[key] = (version, value)
    return value


def _box(text: str | None) -> list[float] | None:
    if not text:
        return None
    nums = text.replace("BOX(", "").replace(")", "").replace(",", " ").split()
    return [round(float(v), 6) for v in nums]


def _extent_sql(table: str, geom: str, where: sql.Composable) -> sql.Composable:
    """The CRS84 box of the features: the storage box transformed, its edges densified (not every geometry)."""
    return sql.SQL("SELECT ST_Extent(ST_Transform(ST_Segmentize(ST_SetSRID(b::geometry, 26191), 500), 4326))::text, "
                   "max(n) FROM (SELECT ST_Extent({g}) AS b, count(*) AS n FROM {t} t {w}) s").format(
        g=sql.SQL(geom), t=sql.Identifier(table), w=where)


def _measure(conn: psycopg.Connection, table: str, geom: str, where: sql.Composable,
             params: tuple = ()) -> tuple[list[float] | None, int]:
    box, count = conn.execute(_extent_sql(table, geom, where), params).fetchone()
    return _box(box), int(count)


def table_versions(conn: psycopg.Connection, keys: tuple[str, ...]) -> tuple[str, datetime | None]:
    """The layer_versions of `keys` as one text (a cache key) and when the last of them changed."""
    return _versions(conn, keys)


def measure_extent(conn: psycopg.Connection, cache_key: str, version: str, table: str, where: sql.Composable,
                   params: tuple = ()) -> tuple[list[float] | None, int]:
    """The CRS84 box and count of `table`'s rows (alias t, column geom) matching `where`, cached until `version`."""
    return _cached(cache_key, version, lambda: _measure(conn, table, "t.geom", where, params))  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------------- layers

def _layer_dataset(conn: psycopg.Connection, layer: Layer) -> Dataset:
    meta = LAYER_METADATA[layer.name]
    version, changed = _versions(conn, layer.versions)
    where = sql.SQL("WHERE " + layer.where) if layer.where else sql.SQL("")
    box, count = _cached(f"layer:{layer.name}", version,
                         lambda: _measure(conn, layer.table, f"t.{layer.geom_column}", where))  # type: ignore[misc]
    part = Part(layer.name, _fr_ar(layer.label, meta["title_ar"]), layer.table,
                datetime="../.." if layer.temporal else None, count=count)
    return Dataset(
        id=layer.name, kind="layer", title=_fr_ar(layer.label, meta["title_ar"]),
        description=_fr_ar(layer.description, meta["description_ar"]), producer=PRODUCER, licence=LICENCE,
        theme=meta["theme"], keywords=tuple(meta["keywords"]), parts=(part,), updated=changed, extent=box,
        feature_count=count, version_key=version)


# ---------------------------------------------------------------------------------------------------- plans

def _plan_rows(conn: psycopg.Connection) -> list[dict]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            """SELECT p.id, p.code, p.kind, p.name, p.status AS recorded_status, p.status_date, p.approval_act,
                      p.approval_date, p.valid_from, p.valid_to, p.commune_codes,
                      plan_status_on(p.id, CURRENT_DATE) AS status,
                      (SELECT max(effective_date) FROM plan_statuses s WHERE s.plan_id = p.id
                        AND s.effective_date <= CURRENT_DATE) AS status_since,
                      (SELECT s.act FROM plan_statuses s WHERE s.plan_id = p.id AND s.effective_date <= CURRENT_DATE
                        ORDER BY s.effective_date DESC LIMIT 1) AS status_act,
                      i.started_at AS imported_at, (SELECT code FROM plans r WHERE r.id = p.replaces_id) AS replaces
               FROM plans p LEFT JOIN imports i ON i.id = p.import_id ORDER BY p.kind, p.code""").fetchall()


def _plan_dataset(conn: psycopg.Connection, plan: dict, version: str, changed: datetime | None) -> Dataset:
    kind_fr, kind_ar = label("plan_kind", plan["kind"], "fr"), label("plan_kind", plan["kind"], "ar")
    status = plan["status"]

    def measure() -> tuple[tuple[Part, ...], list[float] | None]:
        parts: list[Part] = []
        boxes: list[list[float]] = []
        for name in PLAN_LAYERS:
            layer = CATALOGUE[name]
            if plan["kind"] not in layer.plan_kinds:
                continue
            box, count = _measure(conn, layer.table, "t.geom", sql.SQL("WHERE t.plan_id = %s"), (plan["id"],))
            if not count:
                continue
            if box:
                boxes.append(box)
            meta = LAYER_METADATA[name]
            parts.append(Part(name, _fr_ar(layer.label, meta["title_ar"]), layer.table, plan["id"],
                              f"plan = '{plan['code']}'", "../..", count))
        box = ([min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)]
               if boxes else None)
        return tuple(parts), box

    parts, box = _cached(f"plan:{plan['id']}", version, measure)  # type: ignore[misc]
    today = {"code": status, "fr": label("status", status, "fr"), "ar": label("status", status, "ar")}
    facts = {
        "code": plan["code"], "kind": plan["kind"], "kind_label": _fr_ar(kind_fr, kind_ar), "name": plan["name"],
        "status": today, "status_since": plan["status_since"], "status_act": plan["status_act"],
        "approval_act": plan["approval_act"], "approval_date": plan["approval_date"],
        "valid_from": plan["valid_from"], "valid_to": plan["valid_to"], "replaces": plan["replaces"],
        "communes": list(plan["commune_codes"] or []),
    }
    updated = max((d for d in (plan["imported_at"], changed) if d is not None), default=None)
    kind_title = kind_fr[:1].upper() + kind_fr[1:]
    description_fr = (f"{kind_title} « {plan['name']} » (version {plan['code']}), statut aujourd'hui : {today['fr']}"
                      + (f" ; acte : {plan['approval_act']}" if plan["approval_act"] else "") + ". "
                      "Zonage et règlement, prescriptions (voirie, réserves, servitudes) de cette version.")
    description_ar = (f"{kind_ar} «{plan['name']}» (الصيغة {plan['code']})، الوضعية اليوم: {today['ar']}"
                      + (f"؛ المرجع: {plan['approval_act']}" if plan["approval_act"] else "") + ". "
                      "التنطيق والضوابط والمقتضيات (الطرق، التخصيصات، الارتفاقات) لهذه الصيغة.")
    return Dataset(
        id=plan_dataset_id(plan["code"]), kind="plan",
        title=_fr_ar(f"{plan['name']} — version {plan['code']}", f"{plan['name']} — الصيغة {plan['code']}"),
        description=_fr_ar(description_fr, description_ar), producer=PRODUCER, licence=LICENCE,
        theme="planningCadastre", keywords=("urbanisme", plan["kind"], plan["code"], today["fr"]), parts=parts,
        updated=updated, extent=box, feature_count=sum(p.count for p in parts),
        version_key=f"{version};{plan['code']};{status}", plan=facts)


def _plan_datasets(conn: psycopg.Connection) -> list[Dataset]:
    tables = tuple(sorted({CATALOGUE[n].table for n in PLAN_LAYERS} | {"plans", "plan_statuses"}))
    version, changed = _versions(conn, tables)
    return [_plan_dataset(conn, plan, version, changed) for plan in _plan_rows(conn)]


# ---------------------------------------------------------------------------------------------------- the list

def _core(conn: psycopg.Connection, viewer: Viewer) -> list[Dataset]:
    layers = [_layer_dataset(conn, CATALOGUE[name]) for name in LAYER_METADATA if name in CATALOGUE]
    return layers + _plan_datasets(conn)


def _partners(conn: psycopg.Connection, viewer: Viewer) -> list[Dataset]:
    """The partner layers' datasets (layers/partner_layers.py, imported here: it imports this module)."""
    from layers import partner_layers

    return partner_layers.datasets(conn, viewer)


# Every source of datasets: the agency's own (layers and plan versions), then partner layers. Each returns only
# what `viewer` may see. The partner provider is in the list whatever module is imported first (its import is lazy).
PROVIDERS: list[Callable[[psycopg.Connection, Viewer], list[Dataset]]] = [_core, _partners]


def list_datasets(conn: psycopg.Connection, viewer: Viewer = PUBLIC) -> list[Dataset]:
    """Every dataset `viewer` may see: the agency's layers, then its plan versions, then partner layers."""
    found: list[Dataset] = []
    for provider in PROVIDERS:
        found.extend(d for d in provider(conn, viewer) if viewer.sees(d.audience, d.owner_organisation))
    return found


def get_dataset(conn: psycopg.Connection, dataset_id: str, viewer: Viewer = PUBLIC) -> Dataset:
    """The dataset called `dataset_id`, or a French « not found » (also for one the viewer may not see)."""
    for dataset in list_datasets(conn, viewer):
        if dataset.id == dataset_id:
            return dataset
    raise DatasetNotFound(dataset_id)


class DatasetNotFound(NotFound):
    """No dataset of that name for this viewer (a 404: the same answer whether it exists or is hidden)."""

    def __init__(self, dataset_id: str) -> None:
        super().__init__(f"jeu de données inconnu : « {dataset_id[:80]} » (voir le catalogue : /donnees/)")


def as_dict(dataset: Dataset) -> dict:
    """A JSON-ready summary of a dataset (dates as ISO text): the API and tests read this shape."""
    def iso(value: object) -> object:
        return value.isoformat() if isinstance(value, date | datetime) else value

    plan = {k: iso(v) for k, v in dataset.plan.items()} if dataset.plan else None
    return {
        "id": dataset.id, "kind": dataset.kind, "title": dataset.title, "description": dataset.description,
        "producer": dataset.producer, "licence": dataset.licence, "theme": dataset.theme,
        "keywords": list(dataset.keywords), "updated": iso(dataset.updated), "extent": dataset.extent,
        "crs": dataset.crs, "feature_count": dataset.feature_count, "audience": dataset.audience,
        "owner_organisation": dataset.owner_organisation, "plan": plan,
        "parts": [{"collection": p.collection, "title": p.title, "cql": p.cql, "datetime": p.datetime,
                   "count": p.count} for p in dataset.parts],
    }
