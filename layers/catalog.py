"""The one layer catalogue: each layer's table, attributes, types, short names, publication and tiles.

Imports and exports read the importable columns; the OGC API collections (layers/features.py) and the
vector tile layers (layers/tiles.py) are derived from the same declarations, never declared again.
"""

from __future__ import annotations

from dataclasses import dataclass

from gis.errors import InputError


@dataclass(frozen=True)
class Column:
    """An attribute: name, type, Shapefile short name (≤10 chars, empty when no file fills it), label,
    and how it is published (OGC API: public, partner-only or not at all; name in vector tiles)."""

    name: str
    type: str  # text, int, float, bool, date, datetime, text[], json, rplus, landref
    short: str
    label: str
    required: bool = False
    ogc: str = "public"  # "public", "partner" (X-API-Key only) or "" (not published)
    expr: str = ""  # SQL on alias t (and p, the plan version) when it is not t.<name>
    tile: str = ""  # property name in vector tiles ("" = not in tiles)

    @property
    def importable(self) -> bool:
        """Whether import files fill this attribute (computed and derived ones have no short name)."""
        return bool(self.short)


@dataclass(frozen=True)
class Tiles:
    """How a layer is cut into vector tiles: order (biggest first, so a capped tile keeps what shows),
    feature caps from a zoom on, and a stored Web Mercator geometry when the table has one."""

    order: str
    caps: tuple[tuple[int, int], ...]
    geom_3857: str | None = None
    changes_of: str | None = None  # a draft's tiles show where this column differs from the plans in force


@dataclass(frozen=True)
class Layer:
    """A layer: its table, geometry kind, attributes, plan kinds, and its OGC collection and tiles."""

    name: str
    table: str
    geometry: str  # polygon, line, point, any
    fields: tuple[Column, ...]
    plan_kinds: tuple[str, ...] = ()  # non-empty: features belong to a plan version of these kinds
    label: str = ""
    description: str = ""  # of the OGC collection
    importable: bool = True
    restricted: bool = False  # the whole collection is for partner keys only
    id_column: str = "id"
    geom_column: str = "geom"
    where: str = ""  # a condition every published feature meets
    temporal: str | None = None  # "plan": through its plan version; "self": the layer is the plan versions
    tiles: Tiles | None = None
    reads: tuple[str, ...] = ()  # a view: the tables it reads, whose versions key its caches and ETags

    @property
    def versions(self) -> tuple[str, ...]:
        """The tables whose layer_versions the layer's tiles, extents and ETags follow."""
        if self.reads:
            return self.reads
        return (self.table, "plans") if self.plan_bound else (self.table,)

    @property
    def plan_bound(self) -> bool:
        """Whether each feature belongs to a plan version."""
        return bool(self.plan_kinds)

    @property
    def columns(self) -> tuple[Column, ...]:
        """The attributes an import file can fill, in declaration order."""
        return tuple(c for c in self.fields if c.importable)

    def column(self, name: str) -> Column:
        """The column called `name` (or whose short name is `name`)."""
        for col in self.columns:
            if name in (col.name, col.short):
                return col
        known = ", ".join(c.name for c in self.columns)
        raise InputError(f"la couche {self.name} n'a pas d'attribut « {name} » (attributs : {known})")


def _c(name: str, type_: str, short: str, label: str, required: bool = False, **publication: str) -> Column:
    return Column(name, type_, short, label, required, **publication)


def _derived(name: str, type_: str, label: str, expr: str = "", **publication: str) -> Column:
    """An attribute computed by the database or taken from the plan version: published, never imported."""
    return Column(name, type_, "", label, expr=expr, **publication)


@dataclass(frozen=True)
class ZoneFamily:
    """A family of zones, for the map's colours and legend: recognised first by the words of a zone's dominant
    use and label (what the plan says it is for), else by its code's letters (which vary from plan to plan)."""

    id: str
    words: str  # PostgreSQL regular expression, case-insensitive, on the dominant use and the label
    codes: str  # PostgreSQL regular expression on the upper-cased zone code


# Order matters: the first family whose words match wins, then the first whose code matches; else "autre".
# (« Zone d'immeubles R+8 du centre » is centre/mixte before immeubles; « activités économiques » is activités
# before habitat économique.) \m and \M are PostgreSQL's word boundaries.
ZONE_FAMILIES: tuple[ZoneFamily, ...] = (
    ZoneFamily("espaces_verts", r"espaces? verts?|\mparcs?\M|jardins?|naturel|bois[ée]|for[eê]ts?|loisirs?",
               r"^(ZV|EV|RB|ZN|N)[0-9]*$"),
    ZoneFamily("agricole", r"agricole|\mrural|\mferme", r"^(RA|RC|AG|ZR|ZAG)[0-9]*$"),
    ZoneFamily("industrie", r"industri", r"^(I|ZI)[0-9]*$"),
    ZoneFamily("activites", r"activit[ée]s?|logistique|technopole|entrep[oô]ts?", r"^(ZAE|ZA|AE|ZT|ZAC)[0-9]*$"),
    ZoneFamily("equipements", r"[ée]quipements?|administrati|enseignement|\msant[ée]|\msport",
               r"^(EQ|ZEQ|ZP)[0-9]*$"),
    ZoneFamily("centre_mixte", r"\mcentre|mixte|bureaux|commerces?\M|services", r"^(M|ZM|UM|CV|ZC|B)[0-9]*$"),
    ZoneFamily("villas", r"villas?|individuel|pavillon", r"^V[0-9]*$"),
    ZoneFamily("habitat_economique", r"[ée]conomique|\msocial", r"^E[0-9]*$"),
    ZoneFamily("immeubles", r"collectif|immeubles?|appartements?", r"^[A-D][0-9]*$"),
)
OTHER_FAMILY = "autre"


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def zone_family_sql(families: tuple[ZoneFamily, ...] = ZONE_FAMILIES) -> str:
    """The SQL expression (on alias t of zones) that gives a zone's family id, from the declarations above."""
    text = "coalesce(t.dominant_use, '') || ' ' || coalesce(t.label, '')"
    by_words = " ".join(f"WHEN {text} ~* {_sql_text(f.words)} THEN {_sql_text(f.id)}" for f in families)
    by_code = " ".join(f"WHEN upper(t.code) ~ {_sql_text(f.codes)} THEN {_sql_text(f.id)}" for f in families)
    return f"CASE {by_words} {by_code} ELSE {_sql_text(OTHER_FAMILY)} END"


# Every feature of a plan-bound layer carries its plan version's code and current status.
PLAN_FIELDS = (
    _derived("plan", "text", "version de plan", "p.code", tile="plan"),
    _derived("plan_status", "text", "statut de la version de plan aujourd'hui (homologue, enquete_publique…)",
             "plan_status_on(p.id, CURRENT_DATE)"),  # not in tiles: a tile shows only versions in force that day
)
IN_FORCE_NOTE = (" Par défaut, seules les versions de plan en vigueur aujourd'hui (homologuées et dans leur "
                 "période de validité) ; datetime=AAAA-MM-JJ pour un autre jour, un intervalle pour les versions "
                 "en vigueur à un moment de l'intervalle, datetime=../.. pour toutes les versions (y compris en "
                 "étude ou en enquête publique). Chaque entité porte le code (plan) et le statut (plan_status) "
                 "de sa version.")


CATALOGUE: dict[str, Layer] = {
    layer.name: layer
    for layer in (
        Layer("parcels", "parcels", "polygon", (
            _c("land_ref", "landref", "land_ref", "référence foncière (TF 3875/C, R 1234/C, non immatriculé)", True,
               tile="land_ref"),
            _derived("ref_kind", "text", "nature de la référence : TF, R ou NI"),
            _derived("area_m2", "float", "surface calculée, m²", "round(t.area_m2::numeric, 2)"),
            _c("legal_area_m2", "float", "legal_area", "contenance du titre, m²"),
            _c("commune_code", "text", "commune", "code de l'arrondissement (déduit de la géométrie sinon)",
               tile="commune"),
            _c("address", "text", "address", "adresse", ogc="partner"),
            _derived("ref_text", "text", "référence telle qu'écrite à la source", ogc="partner"),
        ), label="Parcelles", description="Parcelles cadastrales (références foncières normalisées)",
            tiles=Tiles("t.area_m2 DESC", ((10, 2000), (13, 8000), (15, 20000)), geom_3857="t.geom_3857")),
        Layer("zones", "zones", "polygon", (
            *PLAN_FIELDS,
            _c("code", "text", "code", "code de zone (V1, D, I…)", True, tile="code"),
            _c("sector", "text", "sector", "secteur (D2…)", tile="sector"),
            _c("label", "text", "label", "libellé"),
            _c("dominant_use", "text", "dom_use", "vocation dominante"),
            _derived("family", "text", "famille de zone pour la carte (villas, immeubles, activités…), déduite de la "
                     "vocation, du libellé et du code", zone_family_sql(), tile="family"),
            _c("height_max_m", "float", "height_m", "hauteur maximale, m", tile="height_max_m"),
            _c("storeys_max", "rplus", "storeys", "niveaux au-dessus du rez-de-chaussée (R+n : n, « R+4 » accepté)",
               tile="storeys_max"),
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
            _c("conditional_rules", "json", "cond_rules", "règles conditionnelles (JSON)", ogc=""),
            _c("regulation_article", "text", "reg_art", "article du règlement"),
            _c("regulation_text", "text", "reg_text", "texte du règlement", ogc=""),
        ), plan_kinds=("PA", "PS", "PZ", "PDAR", "autre"), label="Zones des plans d'aménagement",
            description="Zonage de chaque version de plan, avec son règlement." + IN_FORCE_NOTE, temporal="plan",
            tiles=Tiles("ST_Area(t.geom) DESC", ((10, 5000),), changes_of="code")),
        Layer("prescriptions", "prescriptions", "any", (
            *PLAN_FIELDS,
            _c("kind", "text", "kind", "nature (road_widening, alignment, facility_reservation…)", True, tile="kind"),
            _c("code", "text", "code", "code", tile="code"),
            _c("label", "text", "label", "libellé", tile="label"),
            _c("width_m", "float", "width_m", "emprise de la voie, m"),
            _c("facility_code", "text", "fac_code", "code de l'équipement réservé (E, S, M, Sp, EV…)"),
            _c("facility_label", "text", "fac_label", "équipement réservé"),
            _c("road_name", "text", "road_name", "voie concernée"),
            _c("attributes", "json", "attributes", "autres attributs (JSON)", ogc=""),
        ), plan_kinds=("PA", "PS", "PZ", "PDAR", "SDAU", "autre"), label="Prescriptions (voirie, réserves, servitudes)",
            description="Voirie, alignements, réserves, espaces verts et servitudes." + IN_FORCE_NOTE, temporal="plan",
            tiles=Tiles("ST_Area(t.geom) DESC", ((10, 5000),))),
        Layer("sdau", "sdau_zones", "polygon", (
            *PLAN_FIELDS,
            _c("code", "text", "code", "code", True),
            _c("label", "text", "label", "libellé"),
            _c("destination", "text", "destination", "destination"),
        ), plan_kinds=("SDAU",), label="Affectation des sols du SDAU",
            description="Affectation des sols du schéma directeur." + IN_FORCE_NOTE, temporal="plan"),
        Layer("communes", "communes", "polygon", (
            _c("code", "text", "code", "code de la commune ou de l'arrondissement", True, tile="code"),
            _c("name", "text", "name", "nom", True, tile="name"),
            _c("kind", "text", "kind", "commune ou arrondissement", True),
            _c("prefecture", "text", "prefecture", "préfecture ou province", True),
            _c("prefecture_kind", "text", "pref_kind", "« préfecture » ou « province »", True),
        ), label="Communes et arrondissements", description="Limites administratives", id_column="code",
            tiles=Tiles("ST_Area(t.geom) DESC", ((10, 500),))),
        Layer("plans", "plans", "polygon", (
            _derived("code", "text", "code de la version"),
            _derived("kind", "text", "nature (PA, SDAU, PS, PZ, PDAR, autre)"),
            _derived("name", "text", "nom"),
            _derived("status", "text", "statut enregistré"),
            _derived("status_date", "date", "date du statut"),
            _derived("approval_act", "text", "acte d'approbation"),
            _derived("approval_date", "date", "date d'approbation"),
            _derived("valid_from", "date", "premier jour d'application"),
            _derived("valid_to", "date", "premier jour où elle ne s'applique plus"),
        ), label="Versions de plans", description="Chaque version de plan avec son statut et son périmètre",
            importable=False, id_column="code", geom_column="perimeter", where="t.perimeter IS NOT NULL",
            temporal="self"),
        Layer("roads", "roads", "polygon", (
            _c("name", "text", "name", "nom de la voie", tile="name"),
            _c("width_m", "float", "width_m", "emprise, m", tile="width_m"),
            _c("status", "text", "status", "existante ou projetée", tile="status"),
            _c("commune_code", "text", "commune", "arrondissement"),
        ), label="Voirie existante", description="Emprise des voies publiques",
            tiles=Tiles("ST_Area(t.geom) DESC", ((10, 5000),))),
        Layer("establishments", "establishments", "point", (
            _c("kind", "text", "kind", "nature (pharmacy, school, mosque…)", True),
            _c("name", "text", "name", "nom"),
            _c("address", "text", "address", "adresse", ogc=""),
            _c("status", "text", "status", "ouvert, fermé ou demande"),
            _c("opened_on", "date", "opened_on", "date d'ouverture"),
            _c("closed_on", "date", "closed_on", "date de fermeture", ogc=""),
            _c("filed_at", "datetime", "filed_at", "date et heure de dépôt de la demande", ogc="partner",
               expr="to_char(t.filed_at, 'YYYY-MM-DD\"T\"HH24:MI:SSOF')"),
            _c("commune_code", "text", "commune", "arrondissement"),
        ), label="Registre des établissements", description="Pharmacies, écoles, lieux de culte…", restricted=True),
        Layer("plan-impact", "plan_impact", "polygon", (
            _derived("land_ref", "landref", "référence foncière de la parcelle", tile="land_ref"),
            _derived("commune_code", "text", "code de l'arrondissement", tile="commune"),
            _derived("from_plan", "text", "version de plan comparée (en vigueur)", tile="from_plan"),
            _derived("to_plan", "text", "version de plan qui la changerait (projet)", tile="to_plan"),
            _derived("change", "text", "effet sur la parcelle : gain ou loss (surface de plancher maximale), reserved "
                     "(nouvellement réservée ou dans un élargissement), outside (dans l'un des deux plans seulement : "
                     "pas de comparaison), unchanged", tile="change"),
            _derived("zone_before", "text", "zone avant (plan en vigueur ; la plus étendue sur la parcelle)",
                     tile="zone_before"),
            _derived("zone_after", "text", "zone après (projet)", tile="zone_after"),
            _derived("zones_before", "int", "zones (non marginales) où se trouve la parcelle avant : plus d'une = "
                     "parcelle partagée"),
            _derived("zones_after", "int", "zones (non marginales) où se trouve la parcelle après"),
            _derived("floor_before_m2", "float", "surface de plancher maximale avant, m²",
                     "round(t.floor_before_m2::numeric, 2)", tile="floor_before_m2"),
            _derived("floor_after_m2", "float", "surface de plancher maximale après, m²",
                     "round(t.floor_after_m2::numeric, 2)", tile="floor_after_m2"),
            _derived("floor_delta_m2", "float", "écart de surface de plancher maximale, m² (après − avant)",
                     "round(t.floor_delta_m2::numeric, 2)", tile="floor_delta_m2"),
            _derived("uses_gained", "text[]", "usages que le projet autoriserait en plus"),
            _derived("uses_lost", "text[]", "usages que le projet n'autoriserait plus"),
            _derived("reserved_new_m2", "float", "surface nouvellement réservée (équipement, espace vert), m²",
                     "round(t.reserved_new_m2::numeric, 2)", tile="reserved_new_m2"),
            _derived("widening_new_m2", "float", "surface nouvellement dans un élargissement ou une voie projetée, m²",
                     "round(t.widening_new_m2::numeric, 2)", tile="widening_new_m2"),
            _derived("buildable_before", "bool", "constructible avant"),
            _derived("buildable_after", "bool", "constructible après"),
            _derived("run_id", "int", "numéro du calcul d'impact publié"),
        ), label="Impact du projet de plan",
            description="Ce que le projet de plan changerait, parcelle par parcelle : zone, surface de plancher "
                        "maximale, usages, surfaces nouvellement réservées ou en élargissement (calculs d'impact "
                        "publiés ; vide tant qu'aucun ne l'est).",
            importable=False, reads=("impact_runs", "impact_parcels", "parcels", "plans"),
            tiles=Tiles("(t.change = 'unchanged'), ST_Area(t.geom) DESC", ((10, 2000), (13, 8000), (15, 20000)))),
    )
}
LAYERS: dict[str, Layer] = {name: layer for name, layer in CATALOGUE.items() if layer.importable}


def get_layer(name: str) -> Layer:
    """The layer called `name`, or an error listing the known ones."""
    try:
        return LAYERS[name]
    except KeyError:
        raise InputError(f"couche inconnue : « {name} » (couches : {', '.join(LAYERS)})") from None
