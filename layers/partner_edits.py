"""Partner layers (issue 16), the write side: create a layer, upload a version, describe and publish it.

An upload goes through the agency's import pipeline (layers/imports.py: `read_source`, `prepare` — the CRS
declared against the coordinates, the geometry checks with repair on request, the attribute types row by row,
the reprojection to EPSG:26191 —, its provenance row, the COPY of layers/bulk.py), into `partner_features` as
version n+1; `current_version` moves to it in the same transaction and the features of older versions stay
(« replacing keeps the previous version, as plans do »). A refused file writes nothing.

Only the organisation's own partner accounts, and administrators, change a layer (`Editor.may_edit`). Every
change (creation, upload, description, audience, information layer) is one line of the chained audit trail
(layers/audit.py: who, what, before and after) and bumps the layer's version (`partner_layers.bump`).
"""

from __future__ import annotations

import itertools
import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import psycopg
from psycopg.rows import dict_row

from gis.crs import crs_label
from gis.errors import FileFormatError, Forbidden, InputError, NotFound
from layers import partner_layers as pl
from layers.audit import audit
from layers.bulk import copy_rows
from layers.catalog import Column, Layer
from layers.datasets import Viewer
from layers.imports import ImportRequest, finish_import, prepare, read_source, record_import

TEXT_LIMITS = {"title_fr": 200, "title_ar": 200, "description_fr": 4000, "description_ar": 4000,
               "info_label_fr": 200, "info_label_ar": 200}
REPAIR_HINT = "cochez « Réparer les géométries invalides » pour tenter de les réparer"
ATTRIBUTE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
# Names the published files and the API give to the feature id and the geometry (GDAL, GeoPackage, CSV, OGC):
# an attribute of that name would overwrite them or be overwritten.
PARTNER_LIMIT = "URBASIG_PARTNER_MAX_FEATURES"
LEFT_OUT = "-"  # the declared type of a field of the file that is not published
RESERVED_NAMES = frozenset({"id", "fid", "ogc_fid", "geometry", "geom", "wkt", "the_geom", "shape"})


@dataclass(frozen=True)
class Editor:
    """Who changes a partner layer: a partner account of an organisation, or an administrator."""

    account_id: int | None
    email: str
    organisation: str | None
    admin: bool = False

    @property
    def viewer(self) -> Viewer:
        """The same person as a reader of the catalogue."""
        return Viewer("admin" if self.admin else "partner", self.account_id, self.organisation)

    def may_edit(self, layer: pl.PartnerLayer) -> bool:
        """Only the layer's own organisation and administrators change it."""
        return self.admin or (self.organisation is not None and self.organisation == layer.organisation)


@dataclass
class UploadResult:
    """What an upload wrote: the new version, its count, what the pipeline repaired, the file's CRS."""

    slug: str
    version: int
    count: int
    source_crs: str
    import_id: int
    attributes: list[dict]
    repaired: list[tuple[int, str]] = field(default_factory=list)


FIELD_NAMES = {"title_fr": "le titre en français", "title_ar": "le titre en arabe",
               "description_fr": "la description en français", "description_ar": "la description en arabe",
               "info_label_fr": "le libellé de la note en français", "info_label_ar": "le libellé de la note en arabe"}
# Control characters (but tab and line breaks) and the XML non-characters: no page needs them, and the ISO 19139
# and DCAT documents could not carry them (XML 1.0 forbids them).
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


def _clean(value: object, name: str) -> str:
    text = str(value or "").strip()
    if len(text) > TEXT_LIMITS[name]:
        raise InputError(f"{FIELD_NAMES[name]} est trop long(ue) : {len(text)} caractères, au plus {TEXT_LIMITS[name]}")
    if CONTROL.search(text):
        raise InputError(f"{FIELD_NAMES[name]} contient un caractère de contrôle (invisible) : retirez-le")
    return text


def slug_for(title: str) -> str:
    """The URL slug of a title: ASCII lower case, words joined by hyphens (3 to 60 characters)."""
    ascii_text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:50].strip("-")
    return slug if len(slug) >= 3 else f"couche-{slug}".strip("-")


def _check_choice(value: str, allowed: tuple[str, ...] | list[str], what: str) -> str:
    if value not in allowed:
        raise InputError(f"{what} inconnu(e) : « {value[:40]} » (valeurs possibles : {', '.join(allowed)})")
    return value


def create_layer(conn: psycopg.Connection, editor: Editor, form: dict[str, str]) -> pl.PartnerLayer:
    """A new layer of the editor's organisation, with no version yet (audience « owner »); audited."""
    if editor.organisation is None:
        raise Forbidden("seul un compte partenaire rattaché à une organisation peut créer une couche")
    title = _clean(form.get("title_fr"), "title_fr")
    if not title:
        raise InputError("le titre en français est obligatoire")
    values = {"title_fr": title, "title_ar": _clean(form.get("title_ar"), "title_ar") or None,
              "description_fr": _clean(form.get("description_fr"), "description_fr"),
              "description_ar": _clean(form.get("description_ar"), "description_ar"),
              "licence": _check_choice(str(form.get("licence") or ""), list(pl.LICENCES), "licence"),
              "geometry_kind": _check_choice(str(form.get("geometry_kind") or ""), pl.GEOMETRY_KINDS,
                                             "type de géométrie")}
    base = slug_for(title)
    taken = {r[0] for r in conn.execute("SELECT slug FROM partner_layers WHERE slug = %s OR slug LIKE %s",
                                        (base, base + "-%"))}
    for n in itertools.count(1):  # the first free slug; a layer made meanwhile by another request takes the next
        slug = base if n == 1 else f"{base}-{n}"
        if slug in taken:
            continue
        made = conn.execute(
            "INSERT INTO partner_layers (slug, organisation, created_by, title_fr, title_ar, description_fr, "
            "description_ar, licence, geometry_kind) VALUES (%(slug)s, %(organisation)s, %(by)s, %(title_fr)s, "
            "%(title_ar)s, %(description_fr)s, %(description_ar)s, %(licence)s, %(geometry_kind)s) "
            "ON CONFLICT (slug) DO NOTHING RETURNING id",
            {**values, "slug": slug, "organisation": editor.organisation, "by": editor.account_id}).fetchone()
        if made:
            break
    audit(conn, editor.email, "partenaire.couche.creee", "partner_layer", slug, None,
          {**values, "organisation": editor.organisation, "audience": "owner"})
    pl.bump(conn, slug)
    return _editable(conn, slug, editor)


def _editable(conn: psycopg.Connection, slug: str, editor: Editor) -> pl.PartnerLayer:
    """The layer, locked for this transaction, when the editor may change it: else 403 (or 404 if hidden)."""
    conn.execute("SELECT 1 FROM partner_layers WHERE slug = %s FOR UPDATE", (slug,))
    layer = pl.find_layer(conn, slug, Viewer("admin"), published_only=False)
    if layer is None or (not editor.may_edit(layer)
                         and pl.find_layer(conn, slug, editor.viewer, published_only=False) is None):
        raise NotFound(f"couche de partenaire inconnue : « {slug[:60]} »")
    if not editor.may_edit(layer):
        raise Forbidden(f"la couche « {layer.title_fr} » appartient à {layer.organisation} : seuls ses comptes "
                        "partenaires et les administrateurs de l'agence peuvent la modifier")
    return layer


def check_editable(conn: psycopg.Connection, slug: str, editor: Editor) -> None:
    """Refuse (403, or 404 for a layer the editor may not even see) an editor who may not change the layer."""
    _editable(conn, slug, editor)


def record_refusal(conn: psycopg.Connection, slug: str, editor: Editor, filename: str, reason: str) -> None:
    """Audit a refused upload (« every upload is in the audit trail »): who, which file, why; nothing else is
    written. Only for an editor of the layer (another one's attempt is a 403 or 404, not an upload)."""
    try:
        layer = _editable(conn, slug, editor)
    except (Forbidden, NotFound):
        return
    audit(conn, editor.email, "partenaire.couche.refusee", "partner_layer", slug, {"version": layer.current_version},
          {"file": Path(filename).name[:200], "reason": reason[:1000], "organisation": layer.organisation})


def layers_of(conn: psycopg.Connection, editor: Editor) -> list[tuple[pl.PartnerLayer, list[dict]]]:
    """The layers the editor may change (its organisation's; every layer for an administrator), each with its
    versions (newest first)."""
    viewer = editor.viewer
    mine = [layer for layer in pl.visible_layers(conn, viewer, published_only=False) if editor.may_edit(layer)]
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute("SELECT v.layer_id, v.version, v.feature_count, v.created_at, a.email AS created_by "
                           "FROM partner_layer_versions v LEFT JOIN accounts a ON a.id = v.created_by "
                           "WHERE v.layer_id = ANY(%s) ORDER BY v.layer_id, v.version DESC",
                           ([layer.id for layer in mine],)).fetchall()
    return [(layer, [r for r in rows if r["layer_id"] == layer.id]) for layer in mine]


# ---------------------------------------------------------------------------------------------------- upload

def _inferred_type(values: np.ndarray) -> str:
    kind = values.dtype.kind
    if kind == "b":
        return "bool"
    if kind in "iu":
        return "int"
    if kind == "f":
        return "float"
    if kind == "M":
        return "date"
    return "text"


def _declare(source_fields: dict[str, np.ndarray], declared: dict[str, dict[str, str]]) -> list[dict]:
    """The attributes of a first upload: every field of the file, typed from the file or as the partner says, but
    those the partner leaves out (type « - »: a field that must not be published, e.g. a name or an address)."""
    unknown = sorted(set(declared) - set(source_fields))
    if unknown:
        raise InputError(f"attribut(s) déclaré(s) absent(s) du fichier : {', '.join(unknown)} (champs du fichier : "
                         f"{', '.join(source_fields) or 'aucun'})")
    out = []
    seen: dict[str, str] = {}
    for name, values in source_fields.items():
        wish = declared.get(name, {})
        if wish.get("type") == LEFT_OUT:
            continue
        if not ATTRIBUTE_NAME.match(name):
            raise FileFormatError(f"nom de champ « {name[:40]} » refusé : lettres sans accents, chiffres et « _ » "
                                  f"seulement ; renommez-le dans votre logiciel SIG, ou écartez-le (« {name[:40]} ; - »)")
        if name.lower() in RESERVED_NAMES:
            raise FileFormatError(f"nom de champ « {name} » réservé (identifiant ou géométrie des fichiers publiés : "
                                  f"{', '.join(sorted(RESERVED_NAMES))}) ; renommez-le dans votre logiciel SIG, ou "
                                  f"écartez-le (« {name} ; - »)")
        if name.lower() in seen:
            raise FileFormatError(f"champs « {seen[name.lower()]} » et « {name} » : deux noms qui ne diffèrent que par "
                                  "les majuscules (un GeoPackage ou un CSV les confond) ; renommez l'un d'eux")
        seen[name.lower()] = name
        kind = wish.get("type") or _inferred_type(values)
        _check_choice(kind, pl.ATTRIBUTE_TYPES, f"type de l'attribut {name}")
        out.append({"name": name, "type": kind, "label": (wish.get("label") or name).strip()[:200]})
    return out


def _json_value(value: object) -> object:
    return value.isoformat() if isinstance(value, date) else value


def upload_version(conn: psycopg.Connection, slug: str, editor: Editor, path: Path, filename: str, *,
                   repair: bool = False, declared: dict[str, dict[str, str]] | None = None,
                   max_features: int = 5_000_000) -> UploadResult:
    """Import a file as the layer's next version, all or nothing (the import's French errors otherwise).

    At the first upload the layer's attributes are declared from the file's fields (`declared`: a type or label
    the partner chose, by field name); later files must carry every declared attribute, of its type."""
    with conn.transaction():
        layer = _editable(conn, slug, editor)
        source = read_source(path, max_features=max_features, limit_setting=PARTNER_LIMIT)
        first = not layer.attributes
        attributes = (_declare(source.fields, declared or {}) if first
                      else [{"name": a.name, "type": a.type, "label": a.label} for a in layer.attributes])
        if not first:
            present = {name.lower() for name in source.fields}
            missing = [a["name"] for a in attributes if a["name"].lower() not in present]
            if missing:
                raise FileFormatError(f"attribut(s) de la couche absent(s) du fichier : {', '.join(missing)} ; "
                                      "une nouvelle version garde les attributs déclarés à la première")
        target = Layer(name=layer.collection_id, table="partner_features", geometry=layer.geometry_kind,
                       fields=tuple(Column(a["name"], a["type"], a["name"], a["label"]) for a in attributes))
        request = ImportRequest(path=path, layer=layer.collection_id, repair=repair, max_features=max_features,
                                limit_setting=PARTNER_LIMIT,
                                repair_hint=REPAIR_HINT)
        prep = prepare(request, target, source=source)
        import_id = record_import(conn, layer.collection_id, request, prep, source_path=Path(filename).name[:200])
        version = conn.execute("SELECT COALESCE(max(version), 0) + 1 FROM partner_layer_versions WHERE layer_id = %s",
                               (layer.id,)).fetchone()[0]
        conn.execute("INSERT INTO partner_layer_versions (layer_id, version, import_id, feature_count, created_by) "
                     "VALUES (%s, %s, %s, %s, %s)", (layer.id, version, import_id, prep.n, editor.account_id))
        names = [a["name"] for a in attributes]
        rows = ((layer.id, version, json.dumps({n: _json_value(prep.columns[n][i]) if n in prep.columns else None
                                                for n in names}, ensure_ascii=False), prep.ewkb[i])
                for i in range(prep.n))
        copy_rows(conn, "partner_features", ("layer_id", "version", "properties", "geom"), rows, total=prep.n)
        finish_import(conn, import_id, prep.n, len(prep.report.repaired), None)
        conn.execute("UPDATE partner_layers SET current_version = %s, attributes = %s::jsonb, updated_at = now() "
                     "WHERE id = %s", (version, json.dumps(attributes, ensure_ascii=False), layer.id))
        audit(conn, editor.email, "partenaire.couche.version", "partner_layer", slug,
              {"version": layer.current_version},
              {"version": version, "features": prep.n, "file": Path(filename).name[:200], "import_id": import_id,
               "source_crs": crs_label(prep.src_crs), "repaired": len(prep.report.repaired),
               "organisation": layer.organisation, **({"attributes": attributes} if first else {})})
        pl.bump(conn, slug)
    return UploadResult(slug, version, prep.n, crs_label(prep.src_crs), import_id, attributes,
                        prep.report.repaired)


# ---------------------------------------------------------------------------------------------------- describe

def _description_changes(layer: pl.PartnerLayer, form: dict[str, str]) -> dict[str, object]:
    """The description fields the form sets (title, descriptions, licence, attribute labels)."""
    new: dict[str, object] = {}
    for name in ("title_fr", "title_ar", "description_fr", "description_ar"):
        if name in form:
            new[name] = _clean(form[name], name) or (None if name == "title_ar" else "")
    if "title_fr" in new and not new["title_fr"]:
        raise InputError("le titre en français est obligatoire")
    if "licence" in form:
        new["licence"] = _check_choice(form["licence"], list(pl.LICENCES), "licence")
    labels = {a.name: (form.get(f"label_{a.name}") or "").strip()[:200] for a in layer.attributes}
    if any(labels.values()):
        new["attributes"] = [{"name": a.name, "type": a.type, "label": labels[a.name] or a.label}
                             for a in layer.attributes]
    return new


def _publication_changes(layer: pl.PartnerLayer, form: dict[str, str]) -> dict[str, object]:
    """The audience and the information layer the form sets."""
    new: dict[str, object] = {}
    if "audience" in form:
        new["audience"] = _check_choice(form["audience"], pl.AUDIENCES, "audience")
    if "information_layer" in form:
        info = form["information_layer"] in ("1", "on", "oui", "true")
        label_fr = _clean(form.get("info_label_fr"), "info_label_fr")
        label_ar = _clean(form.get("info_label_ar"), "info_label_ar")
        if info and not label_fr:
            raise InputError("une couche d'information de l'instruction a besoin de son libellé en français "
                             "(ce que la note imprime)")
        new.update(information_layer=info, info_label_fr=label_fr or None, info_label_ar=label_ar or None)
    return new


def _before(layer: pl.PartnerLayer, name: str) -> object:
    if name == "attributes":
        return [{"name": a.name, "type": a.type, "label": a.label} for a in layer.attributes]
    return getattr(layer, name)


def edit_layer(conn: psycopg.Connection, slug: str, editor: Editor, form: dict[str, str]) -> pl.PartnerLayer:
    """Change a layer's description, licence, labels, audience or information layer; audited, bumped.

    Only what `form` names changes; nothing that is already so is written (no audit line for no change)."""
    with conn.transaction():
        layer = _editable(conn, slug, editor)
        wanted = {**_description_changes(layer, form), **_publication_changes(layer, form)}
        changed = {k: v for k, v in wanted.items() if _before(layer, k) != v}
        if not changed:
            return layer
        sets = ", ".join(f"{k} = %({k})s" + ("::jsonb" if k == "attributes" else "") for k in changed)
        params = {k: json.dumps(v, ensure_ascii=False) if k == "attributes" else v for k, v in changed.items()}
        conn.execute(f"UPDATE partner_layers SET {sets}, updated_at = now() WHERE id = %(id)s",  # noqa: S608 - names
                     {**params, "id": layer.id})
        action = ("partenaire.couche.audience" if "audience" in changed else
                  "partenaire.couche.information" if "information_layer" in changed else "partenaire.couche.description")
        audit(conn, editor.email, action, "partner_layer", slug, {k: _before(layer, k) for k in changed},
              {**changed, "organisation": layer.organisation})
        pl.bump(conn, slug)
        return _editable(conn, slug, editor)


def parse_declarations(text: str) -> dict[str, dict[str, str]]:
    """The attribute declarations a partner typed, one per line « champ ; type ; libellé » (type and label
    optional): by field name. A French refusal names the line."""
    out: dict[str, dict[str, str]] = {}
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.replace("|", ";").split(";")]
        name, kind, label = (parts + ["", ""])[:3]
        if not name or len(name) > 63 or any(c in name for c in "\"'\\"):
            raise InputError(f"ligne {number} des attributs : « {line.strip()[:60]} » ; écrivez « champ ; type ; "
                             f"libellé », le type parmi {', '.join(pl.ATTRIBUTE_TYPES)}")
        if kind and kind != LEFT_OUT:
            _check_choice(kind, pl.ATTRIBUTE_TYPES, f"type de l'attribut {name} (ligne {number})")
        out[name] = {"type": kind, "label": label}
    return out


# ---------------------------------------------------------------------------------------------------- demonstration

DEMO_LAYER = {"title_fr": "Ouvrages d'assainissement (démonstration)", "title_ar": "منشآت التطهير (عرض توضيحي)",
              "description_fr": "Servitude de 8 m autour des regards du réseau d'assainissement, déposée par le compte "
                                "partenaire de démonstration (données fictives).",
              "description_ar": "ارتفاق بعرض 8 أمتار حول فتحات شبكة التطهير (معطيات وهمية للعرض).",
              "licence": "CC-BY-4.0", "geometry_kind": "polygon"}
DEMO_PUBLICATION = {"audience": "public", "information_layer": "1",
                    "info_label_fr": "Servitude d'ouvrage d'assainissement", "info_label_ar": "ارتفاق منشأة التطهير"}


def demo_layer(conn: psycopg.Connection, editor: Editor, folder: Path, count: int = 60) -> pl.PartnerLayer | None:
    """Development: the demonstration partner's public information layer, made once as a partner makes one.

    A GeoJSON of `count` circles of 8 m around a corner of the widest roads (on the limit with the lands),
    written to `folder`, then the real path: create, upload through the import pipeline, publish to the public as
    an information layer (each step audited). None when the organisation already has a layer."""
    import geopandas as gpd
    import pyogrio
    import shapely

    if conn.execute("SELECT 1 FROM partner_layers WHERE organisation = %s", (editor.organisation,)).fetchone():
        return None
    rows = conn.execute("SELECT ST_AsBinary(ST_Buffer(ST_StartPoint(ST_ExteriorRing(ST_GeometryN(geom, 1))), 8, 8)), "
                        "name FROM roads ORDER BY width_m DESC NULLS LAST, id LIMIT %s", (count,)).fetchall()
    if not rows:
        return None
    path = Path(folder) / "ouvrages-assainissement.geojson"
    frame = gpd.GeoDataFrame({"ouvrage": [f"Regard R{i + 1:03d}" for i in range(len(rows))],
                              "voie": [r[1] or "" for r in rows]},
                             geometry=shapely.from_wkb([bytes(r[0]) for r in rows]), crs="EPSG:26191")
    pyogrio.write_dataframe(frame, path, driver="GeoJSON")
    layer = create_layer(conn, editor, DEMO_LAYER)
    upload_version(conn, layer.slug, editor, path, path.name,
                   declared={"ouvrage": {"label": "Ouvrage"}, "voie": {"label": "Voie"}})
    return edit_layer(conn, layer.slug, editor, DEMO_PUBLICATION)

