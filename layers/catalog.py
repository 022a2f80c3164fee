"""The layer catalogue: which tables hold which layer, their attributes, types and short names.

Imports, exports, QA and (later) the OGC API all read this one description.
"""

from __future__ import annotations

from dataclasses import dataclass

from gis.errors import InputError


@dataclass(frozen=True)
class Column:
    """An attribute a file can fill: target name, type, Shapefile short name (≤10 chars), description."""

    name: str
    type: str  # text, int, float, bool, date, datetime, text[], json, rplus, landref
    short: str
    label: str
    required: bool = False


@dataclass(frozen=True)
class Layer:
    """A layer: its table, geometry kind, importable columns and whether it belongs to a plan version."""

    name: str
    table: str
    geometry: str  # polygon, line, point, any
    columns: tuple[Column, ...]
    plan_kinds: tuple[str, ...] = ()  # non-empty: features belong to a plan version of these kinds
    label: str = ""

    @property
    def plan_bound(self) -> bool:
        """Whether each feature belongs to a plan version."""
        return bool(self.plan_kinds)

    def column(self, name: str) -> Column:
        """The column called `name` (or whose short name is `name`)."""
        for col in self.columns:
            if name in (col.name, col.short):
                return col
        known = ", ".join(c.name for c in self.columns)
        raise InputError(f"la couche {self.name} n'a pas d'attribut « {name} » (attributs : {known})")


def _c(name: str, type_: str, short: str, label: str, required: bool = False) -> Column:
    return Column(name, type_, short, label, required)


LAYERS: dict[str, Layer] = {
    layer.name: layer
    for layer in (
        Layer("communes", "communes", "polygon", (
            _c("code", "text", "code", "code de la commune ou de l'arrondissement", True),
            _c("name", "text", "name", "nom", True),
            _c("kind", "text", "kind", "commune ou arrondissement", True),
            _c("prefecture", "text", "prefecture", "préfecture ou province", True),
            _c("prefecture_kind", "text", "pref_kind", "« préfecture » ou « province »", True),
        ), label="Communes et arrondissements"),
        Layer("parcels", "parcels", "polygon", (
            _c("land_ref", "landref", "land_ref", "référence foncière (TF 3875/C, R 1234/C, non immatriculé)", True),
            _c("legal_area_m2", "float", "legal_area", "contenance du titre, m²"),
            _c("commune_code", "text", "commune", "code de l'arrondissement (déduit de la géométrie sinon)"),
            _c("address", "text", "address", "adresse"),
        ), label="Parcelles"),
        Layer("zones", "zones", "polygon", (
            _c("code", "text", "code", "code de zone (V1, D, I…)", True),
            _c("sector", "text", "sector", "secteur (D2…)"),
            _c("label", "text", "label", "libellé"),
            _c("dominant_use", "text", "dom_use", "vocation dominante"),
            _c("height_max_m", "float", "height_m", "hauteur maximale, m"),
            _c("storeys_max", "rplus", "storeys", "niveaux au-dessus du rez-de-chaussée (R+n : n, « R+4 » accepté)"),
            _c("footprint_max_pct", "float", "footprint", "emprise au sol maximale, %"),
            _c("cos_value", "float", "cos", "COS"),
            _c("cos_meaning", "text", "cos_mean", "sens du COS : emprise ou plancher"),
            _c("cus_value", "float", "cus", "CUS"),
            _c("cus_meaning", "text", "cus_mean", "sens du CUS : emprise ou plancher"),
            _c("min_plot_area_m2", "float", "min_plot", "superficie minimale de lot, m²"),
            _c("min_frontage_m", "float", "min_front", "façade minimale, m"),
            _c("setback_road_m", "float", "sb_road", "recul sur voie, m"),
            _c("setback_side_m", "float", "sb_side", "recul sur limites latérales, m"),
            _c("setback_rear_m", "float", "sb_rear", "recul sur limite de fond, m"),
            _c("continuous_frontage", "bool", "cont_front", "front bâti continu"),
            _c("uses_allowed", "text[]", "uses_allow", "usages autorisés (séparés par « ; »)"),
            _c("uses_forbidden", "text[]", "uses_forb", "usages interdits"),
            _c("uses_conditional", "text[]", "uses_cond", "usages sous conditions"),
            _c("conditional_rules", "json", "cond_rules", "règles conditionnelles (JSON)"),
            _c("regulation_article", "text", "reg_art", "article du règlement"),
            _c("regulation_text", "text", "reg_text", "texte du règlement"),
        ), plan_kinds=("PA", "PS", "PZ", "PDAR", "autre"), label="Zones des plans d'aménagement"),
        Layer("prescriptions", "prescriptions", "any", (
            _c("kind", "text", "kind", "nature (road_widening, alignment, facility_reservation…)", True),
            _c("code", "text", "code", "code"),
            _c("label", "text", "label", "libellé"),
            _c("width_m", "float", "width_m", "emprise de la voie, m"),
            _c("facility_code", "text", "fac_code", "code de l'équipement réservé (E, S, M, Sp, EV…)"),
            _c("facility_label", "text", "fac_label", "équipement réservé"),
            _c("road_name", "text", "road_name", "voie concernée"),
            _c("attributes", "json", "attributes", "autres attributs (JSON)"),
        ), plan_kinds=("PA", "PS", "PZ", "PDAR", "SDAU", "autre"), label="Prescriptions (voirie, réserves, servitudes)"),
        Layer("sdau", "sdau_zones", "polygon", (
            _c("code", "text", "code", "code", True),
            _c("label", "text", "label", "libellé"),
            _c("destination", "text", "destination", "destination"),
        ), plan_kinds=("SDAU",), label="Affectation des sols du SDAU"),
        Layer("roads", "roads", "polygon", (
            _c("name", "text", "name", "nom de la voie"),
            _c("width_m", "float", "width_m", "emprise, m"),
            _c("status", "text", "status", "existante ou projetée"),
            _c("commune_code", "text", "commune", "arrondissement"),
        ), label="Voirie existante"),
        Layer("establishments", "establishments", "point", (
            _c("kind", "text", "kind", "nature (pharmacy, school, mosque…)", True),
            _c("name", "text", "name", "nom"),
            _c("address", "text", "address", "adresse"),
            _c("status", "text", "status", "ouvert, fermé ou demande"),
            _c("opened_on", "date", "opened_on", "date d'ouverture"),
            _c("closed_on", "date", "closed_on", "date de fermeture"),
            _c("filed_at", "datetime", "filed_at", "date et heure de dépôt de la demande"),
            _c("commune_code", "text", "commune", "arrondissement"),
        ), label="Registre des établissements"),
    )
}


def get_layer(name: str) -> Layer:
    """The layer called `name`, or an error listing the known ones."""
    try:
        return LAYERS[name]
    except KeyError:
        raise InputError(f"couche inconnue : « {name} » (couches : {', '.join(LAYERS)})") from None
