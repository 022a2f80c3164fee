"""Pure assembly of an instruction result from the overlay rows: coverage, shares, rules, roads, warnings."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from gis.crs import CRS84, parse_crs, reproject
from instruction import SCHEMA_VERSION, precedence
from instruction.land import STORAGE, Land
from instruction.rules import Context, zone_rules
from layers.plan_terms import REGULATORY_KINDS, status_label

PRESCRIPTION_KINDS = {
    "road_widening": "élargissement de voie",
    "new_road": "voie projetée",
    "alignment": "alignement",
    "facility_reservation": "réserve pour équipement public",
    "green_space": "espace vert",
    "non_aedificandi": "zone non aedificandi",
    "heritage_perimeter": "périmètre patrimonial",
    "flood_zone": "zone inondable",
    "utility_corridor": "couloir de réseau (ligne électrique, conduite)",
    "rail_setback": "servitude ferroviaire",
    "motorway_setback": "servitude autoroutière",
    "maritime_domain": "domaine public maritime",
    "cemetery_buffer": "zone de protection de cimetière",
    "other": "autre prescription",
}
ROAD_KINDS = ("road_widening", "new_road")
RESERVATION_KINDS = ("facility_reservation", "green_space", "non_aedificandi")


def r2(value: float | Decimal | None) -> float | None:
    """Round to the centimetre / hundredth (None stays None); -0.0 becomes 0.0."""
    if value is None:
        return None
    out = round(float(value), 2)
    return 0.0 if out == 0 else out


def _iso(value: object) -> object:
    return value.isoformat() if isinstance(value, date) else value


def canonical_json(result: dict) -> str:
    """The result as deterministic JSON: sorted keys, fixed separators, UTF-8 text."""
    return json.dumps(result, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=_iso)


def geometry_json(geom: BaseGeometry | None) -> dict | None:
    """GeoJSON of a geometry in EPSG:26191, coordinates to the millimetre."""
    if geom is None or geom.is_empty:
        return None
    rounded = shapely.transform(geom, lambda c: np.round(c, 3))
    return json.loads(shapely.to_geojson(rounded))


def classify_plans(plans: list[dict], apply_inquiry: bool) -> dict[str, list[dict]]:
    """Split the plans touching the land into applied, in inquiry (warning only) and SDAU."""
    regulatory = [p for p in plans if p["kind"] in REGULATORY_KINDS]
    in_force = [p for p in regulatory if p["in_force"]]
    inquiry = [p for p in regulatory if p["status_on"] == "enquete_publique"]
    if apply_inquiry and inquiry:
        replaced = {p["replaces"] for p in inquiry if p["replaces"]}
        in_force = [p for p in in_force if p["code"] not in replaced] + inquiry
        inquiry = []
    sdau = [p for p in plans if p["kind"] == "SDAU" and p["in_force"]]
    return {"applied": in_force, "inquiry": inquiry, "sdau": sdau}


def may_conflict(plans: list[dict], apply_inquiry: bool) -> bool:
    """Whether several regulatory plans would apply (their overlaps then need the pieces' geometries)."""
    return len(classify_plans(plans, apply_inquiry)["applied"]) > 1


def plan_summary(plan: dict) -> dict:
    """What the result says of a plan version."""
    return {"code": plan["code"], "kind": plan["kind"], "name": plan["name"], "status": plan["status_on"],
            "status_label": status_label(plan["status_on"]),
            "status_since": _iso(plan.get("status_since")), "approval_act": plan.get("approval_act"),
            "approval_date": _iso(plan.get("approval_date")), "valid_from": _iso(plan.get("valid_from")),
            "replaces": plan.get("replaces")}


def _coverage(covered_m2: float, land_area: float, full_pct: float) -> dict:
    pct = min(100.0, 100.0 * covered_m2 / land_area) if land_area else 0.0
    status = "covered" if pct >= full_pct else ("partial" if pct > 0.01 else "not_covered")
    return {"coverage": status, "covered_pct": r2(pct)}


class Piece:
    """One overlay row with its shares computed."""

    def __init__(self, row: dict, land: Land, thresholds: dict, plan_codes: dict[int, str]):
        self.row = row
        self.attrs = row["attrs"]
        self.layer = row["layer"]
        self.plan = plan_codes.get(row["plan_id"])
        self._land = land
        self._thresholds = thresholds
        wkb = row.get("wkb")
        area = float(row["area"] or 0.0)
        self.geom = shapely.from_wkb(wkb) if wkb else (land.geom if area else None)
        self._measure(area, float(row["length"] or 0.0))

    def _measure(self, area: float, length: float) -> None:
        self.area = area
        self.length = length
        self.share = 100.0 * area / self._land.area_m2 if self._land.area_m2 else 0.0
        self.marginal = (area > 0 and self.share < self._thresholds["marginal_share_pct"]
                         and area < self._thresholds["marginal_area_m2"])

    def clip(self, yielded: BaseGeometry) -> None:
        """Remove the ground this piece's plan yields to a later plan (instruction/precedence.py)."""
        if self.geom is None:
            return
        self.geom = shapely.difference(self.geom, yielded)
        linear = shapely.get_dimensions(self.geom) == 1
        self._measure(0.0 if linear else float(self.geom.area), float(self.geom.length) if linear else 0.0)

    @property
    def relevant(self) -> bool:
        """Whether the feature really crosses the land (not only touches its limit)."""
        return self.area > 0.005 or self.length > 0.005

    def base(self, with_geometry: bool) -> dict:
        """Return what every layer's feature entry says of the piece: id, plan, area, share, marginal."""
        out = {"id": self.row["id"], "plan": self.plan, "area_m2": r2(self.area), "share_pct": r2(self.share),
               "marginal": self.marginal}
        if self.length:
            out["length_m"] = r2(self.length)
        if with_geometry:
            out["geometry"] = geometry_json(self.geom)
        return out


def _depth(geom: BaseGeometry | None) -> float | None:
    """Depth of a strip: the short side of its minimum rotated rectangle."""
    if geom is None or geom.is_empty or geom.area == 0:
        return None
    ring = shapely.get_coordinates(shapely.get_exterior_ring(shapely.oriented_envelope(geom)))
    sides = np.hypot(*np.diff(ring[:3], axis=0).T)
    return r2(float(sides.min()))


def _conflict(c: precedence.PlanConflict, land_area: float) -> dict:
    """A conflict between two plans as the result reports it."""
    share = 100.0 * c.overlap_m2 / land_area if land_area else 0.0
    newer, older = c.applied, c.set_aside
    return {
        "code": "conflit_de_plans", "applied": newer["code"], "set_aside": older["code"],
        "applied_since": _iso(precedence.in_force_since(newer)), "set_aside_since": _iso(precedence.in_force_since(older)),
        "overlap_m2": r2(c.overlap_m2), "overlap_pct": r2(share), "rule": "acte postérieur",
        "message": (f"Deux plans en vigueur se chevauchent sur {r2(c.overlap_m2)} m² de ce terrain ({r2(share)} %) : "
                    f"{older['name']} ({older['code']}, en vigueur depuis le {_iso(precedence.in_force_since(older))}) et "
                    f"{newer['name']} ({newer['code']}, depuis le {_iso(precedence.in_force_since(newer))}). Sur cette "
                    f"partie, le plus récent ({newer['code']}) est appliqué (l'acte postérieur l'emporte) ; "
                    "l'incohérence des données est à signaler à l'agence urbaine."),
    }


@dataclass
class _Found:
    """The relevant overlay pieces of one instruction, sorted per layer as the result lists them."""

    pieces: list[Piece]
    communes: list[Piece]
    zones: list[Piece]
    prescriptions: list[Piece]
    sdau: list[Piece]
    partners: list[Piece]


def _warning(code: str, message: str) -> dict:
    return {"code": code, "message": message}


def _resolve_plans(groups: dict[str, list[dict]], land: Land
                   ) -> tuple[dict[int, BaseGeometry], list[precedence.PlanConflict], dict[int, BaseGeometry]]:
    """Resolve overlapping regulatory plans (precedence.py); drop from `groups` a plan left with no ground here."""
    covers = {p["id"]: land.geom if p.get("cover_wkb") is None else shapely.from_wkb(p["cover_wkb"])
              for p in groups["applied"]}
    conflicts, yielded = precedence.resolve(groups["applied"], covers)
    # a plan that yields all of its ground here no longer applies to this land at all
    groups["applied"] = [p for p in groups["applied"] if p["id"] not in yielded
                         or shapely.difference(covers[p["id"]], yielded[p["id"]]).area > precedence.NOISE_M2]
    return covers, conflicts, yielded


def _find(rows: list[dict], land: Land, t: dict, plans: list[dict], groups: dict[str, list[dict]],
          yielded: dict[int, BaseGeometry]) -> _Found:
    """Measure every overlay row, clip what a plan yields to a later one, keep and sort what crosses the land."""
    codes = {p["id"]: p["code"] for p in plans}
    pieces = [Piece(r, land, t, codes) for r in rows]
    for piece in pieces:
        if piece.row["plan_id"] in yielded:
            piece.clip(yielded[piece.row["plan_id"]])
    pieces = [p for p in pieces if p.relevant or (p.layer == "partner" and p.attrs["kind"] == "point")]
    applied_ids = {p["id"] for p in groups["applied"]}
    sdau_ids = {p["id"] for p in groups["sdau"]}
    return _Found(
        pieces=pieces,
        communes=sorted((p for p in pieces if p.layer == "communes"), key=lambda p: (-p.area, p.attrs["code"])),
        zones=sorted((p for p in pieces if p.layer == "zones" and p.row["plan_id"] in applied_ids),
                     key=lambda p: (-p.area, p.row["id"])),
        prescriptions=sorted((p for p in pieces if p.layer == "prescriptions" and p.row["plan_id"] in applied_ids),
                             key=lambda p: (p.attrs["kind"], -p.area, -p.length, p.row["id"])),
        sdau=sorted((p for p in pieces if p.layer == "sdau" and p.row["plan_id"] in sdau_ids),
                    key=lambda p: (-p.area, p.row["id"])),
        partners=sorted((p for p in pieces if p.layer == "partner"),
                        key=lambda p: (p.attrs["label_fr"], p.attrs["slug"], -p.area, -p.length, p.row["id"])),
    )


def _partners_out(pieces: list[Piece]) -> list[dict]:
    """The partner information layers crossing the land (layers/overlay.PARTNER_INFO): per layer its label, its
    source (the organisation), the version read, and each feature with its share and its declared attributes."""
    out: list[dict] = []
    for piece in pieces:
        a = piece.attrs
        if not out or out[-1]["layer"] != a["slug"]:
            out.append({"layer": a["slug"], "collection": "partenaire-" + a["slug"],
                        "label": {"fr": a["label_fr"], "ar": a["label_ar"]}, "source": a["organisation"],
                        "version": a["version"], "features": []})
        values = [{"name": d["name"], "label": d.get("label") or d["name"], "value": a["properties"].get(d["name"])}
                  for d in a["attributes"]]
        feature = {"id": piece.row["id"], "area_m2": r2(piece.area), "share_pct": r2(piece.share),
                   "attributes": values}
        if piece.length:
            feature["length_m"] = r2(piece.length)
        out[-1]["features"].append(feature)
    return out


def _land_out(land: Land, communes: list[Piece], with_geometry: bool) -> dict:
    """The land as the result describes it: references, areas, communes, bounding box and centroid."""
    centroid = reproject(np.array([land.geom.centroid], dtype=object), STORAGE, parse_crs(CRS84))[0]
    out: dict[str, object] = {
        "refs": land.refs, "area_m2": r2(land.area_m2), "legal_area_m2": r2(land.legal_area_m2),
        "parts": land.parts, "contiguous": land.parts == 1,
        "communes": [{"code": p.attrs["code"], "name": p.attrs["name"], "kind": p.attrs["kind"],
                      "prefecture": p.attrs["prefecture"], "share_pct": r2(p.share)} for p in communes],
        "bbox": [r2(v) for v in land.geom.bounds], "centroid_lonlat": [round(centroid.x, 6), round(centroid.y, 6)]}
    if with_geometry:
        out["geometry"] = geometry_json(land.geom)
    return out


def _layers_out(found: _Found, groups: dict[str, list[dict]], zone_cover: float, area: float, full_pct: float,
                with_geometry: bool) -> list[dict]:
    """Every layer with its coverage and features: zones, each prescription kind, SDAU, communes."""
    sdau_cover = sum(float(p["covered_m2"] or 0) for p in groups["sdau"])
    commune_cover = sum(p.area for p in found.communes)
    applied_codes = [p["code"] for p in groups["applied"]]
    layers = [{"layer": "zones", "label": "zonage du plan d'aménagement", "plans": applied_codes,
               **_coverage(zone_cover, area, full_pct),
               "features": [{**p.base(with_geometry), "code": p.attrs["code"], "sector": p.attrs["sector"],
                             "label": p.attrs["label"]} for p in found.zones]}]
    for kind, label in PRESCRIPTION_KINDS.items():
        of_kind = [p for p in found.prescriptions if p.attrs["kind"] == kind]
        layers.append({"layer": f"prescriptions/{kind}", "label": label, "plans": applied_codes,
                       **_coverage(zone_cover, area, full_pct),
                       "features": [{**p.base(with_geometry), "code": p.attrs["code"], "label": p.attrs["label"]}
                                    for p in of_kind]})
    layers.append({"layer": "sdau", "label": "affectation du SDAU", "plans": [p["code"] for p in groups["sdau"]],
                   **_coverage(sdau_cover, area, full_pct),
                   "features": [{**p.base(with_geometry), "code": p.attrs["code"], "label": p.attrs["label"]}
                                for p in found.sdau]})
    layers.append({"layer": "communes", "label": "communes et arrondissements", "plans": [],
                   **_coverage(commune_cover, area, full_pct),
                   "features": [{"code": p.attrs["code"], "name": p.attrs["name"], "area_m2": r2(p.area),
                                 "share_pct": r2(p.share)} for p in found.communes]})
    return layers


def _rules_out(zones: list[Piece], context: Context) -> list[dict]:
    """The effective rules of every zone the land lies in."""
    return [{"zone": {"id": p.row["id"], "plan": p.plan, "code": p.attrs["code"], "sector": p.attrs["sector"],
                      "label": p.attrs["label"]},
             "area_m2": r2(p.area), "share_pct": r2(p.share), "marginal": p.marginal,
             **zone_rules(p.attrs, context)} for p in zones]


def _roads_out(prescriptions: list[Piece], roads: list[dict], widest: float | None, area: float) -> dict:
    """Fronting roads, planned widenings and alignments, and the area the roads take from the land."""
    road_pieces = [p for p in prescriptions if p.attrs["kind"] in ROAD_KINDS]
    lost = shapely.union_all([p.geom for p in road_pieces if p.geom is not None]) if road_pieces else None
    lost_area = float(lost.area) if lost is not None else 0.0
    return {
        "fronting": [{"name": r["name"], "width_m": r2(r["width_m"])} for r in roads],
        "road_width_used_m": r2(widest),
        "widenings": [{"kind": p.attrs["kind"], "label": p.attrs["label"], "road_name": p.attrs["road_name"],
                       "planned_width_m": r2(p.attrs["width_m"]), "area_m2": r2(p.area), "share_pct": r2(p.share),
                       "depth_m": _depth(p.geom), "plan": p.plan} for p in road_pieces],
        "alignments": [{"label": p.attrs["label"], "road_name": p.attrs["road_name"],
                        "planned_width_m": r2(p.attrs["width_m"]), "length_m": r2(p.length), "plan": p.plan}
                       for p in prescriptions if p.attrs["kind"] == "alignment"],
        "lost_area_m2": r2(lost_area),
        "remaining_area_m2": r2(area - lost_area),
    }


def _reservations_out(prescriptions: list[Piece]) -> list[dict]:
    """Facility reservations, green spaces and non aedificandi areas on the land."""
    return [{"kind": p.attrs["kind"], "label": p.attrs["label"], "facility_code": p.attrs["facility_code"],
             "facility_label": p.attrs["facility_label"], "area_m2": r2(p.area), "share_pct": r2(p.share),
             "marginal": p.marginal, "plan": p.plan} for p in prescriptions if p.attrs["kind"] in RESERVATION_KINDS]


def _servitudes_out(prescriptions: list[Piece]) -> list[dict]:
    """The other prescriptions on the land (flood zone, corridors, setbacks of rail and motorway…)."""
    return [{"kind": p.attrs["kind"], "kind_label": PRESCRIPTION_KINDS[p.attrs["kind"]], "label": p.attrs["label"],
             "code": p.attrs["code"], "area_m2": r2(p.area), "share_pct": r2(p.share), "marginal": p.marginal,
             "attributes": p.attrs.get("attributes") or {}, "plan": p.plan}
            for p in prescriptions if p.attrs["kind"] not in ROAD_KINDS + RESERVATION_KINDS + ("alignment",)]


def _zone_list(items: list[Piece]) -> str:
    return ", ".join(f"{p.attrs['code']} ({r2(p.share)} %)" for p in items if not p.marginal) or "aucune zone"


def _inquiry_out(plan: dict, found: _Found) -> tuple[dict, dict]:
    """What a plan in public inquiry would change on this land, and the warning that says it."""
    new_zones = sorted((p for p in found.pieces if p.layer == "zones" and p.row["plan_id"] == plan["id"]),
                       key=lambda p: (-p.area, p.row["id"]))
    current = {(p.attrs["code"], p.attrs.get("storeys_max"), r2(p.share)) for p in found.zones if not p.marginal}
    proposed = {(p.attrs["code"], p.attrs.get("storeys_max"), r2(p.share)) for p in new_zones if not p.marginal}
    new_presc = {(p.attrs["kind"], p.attrs["label"]) for p in found.pieces
                 if p.layer == "prescriptions" and p.row["plan_id"] == plan["id"]}
    old_presc = {(p.attrs["kind"], p.attrs["label"]) for p in found.prescriptions}
    entry = {
        "plan": plan_summary(plan),
        "zoning_changed": current != proposed,
        "zones": [{"code": p.attrs["code"], "sector": p.attrs["sector"], "label": p.attrs["label"],
                   "storeys_max": p.attrs.get("storeys_max"), "height_max_m": r2(p.attrs.get("height_max_m")),
                   "area_m2": r2(p.area), "share_pct": r2(p.share), "marginal": p.marginal} for p in new_zones],
        "prescriptions_added": [{"kind": k, "label": lbl} for k, lbl in sorted(new_presc - old_presc, key=str)],
        "prescriptions_removed": [{"kind": k, "label": lbl} for k, lbl in sorted(old_presc - new_presc, key=str)],
    }
    change = (f"classerait ce terrain en zone {_zone_list(new_zones)} au lieu de {_zone_list(found.zones)}"
              if current != proposed else "ne modifie pas le zonage de ce terrain")
    warning = _warning("plan_en_enquete", f"Le {plan['name']} ({plan['code']}) est en enquête publique depuis le "
                                          f"{_iso(plan.get('status_since'))} : il {change}.")
    return entry, warning


def _plan_warnings(groups: dict[str, list[dict]], zones_layer: dict, apply_inquiry: bool) -> list[dict]:
    """Warnings on the plans that apply: none, only part of the land covered, a plan in inquiry applied."""
    out = []
    if not groups["applied"]:
        if groups["sdau"]:
            out.append(_warning("sans_plan_amenagement", "Aucun plan d'aménagement n'est en vigueur sur ce terrain à "
                                "cette date : seul le SDAU s'applique (orientations, non opposable aux tiers)."))
        else:
            out.append(_warning("aucun_document", "Aucun document d'urbanisme en vigueur ne couvre ce terrain à cette "
                                                  "date."))
    elif zones_layer["coverage"] == "partial":
        out.append(_warning("couverture_partielle", f"Le plan d'aménagement ne couvre que {zones_layer['covered_pct']} "
                                                    "% du terrain."))
    if apply_inquiry and any(p["status_on"] == "enquete_publique" for p in groups["applied"]):
        out.append(_warning("plan_en_enquete_applique", "Un plan en enquête publique est appliqué (réglage "
                                                        "URBASIG_APPLY_PLANS_IN_INQUIRY)."))
    return out


def _upcoming_warnings(plans: list[dict], day: date) -> list[dict]:
    """A plan approved but not yet in force on `day` is said, with the day it will apply."""
    return [_warning("plan_homologue_a_venir", f"Le {p['name']} ({p['code']}) est homologué"
                     + (f" ({p['approval_act']})" if p.get("approval_act") else "")
                     + f" mais n'entre en vigueur que le {_iso(p['valid_from'])} : il ne s'applique pas encore"
                     + (f" ; il remplacera alors {p['replaces']}." if p.get("replaces") else "."))
            for p in plans if p["kind"] in REGULATORY_KINDS and p["status_on"] == "homologue" and not p["in_force"]
            and p.get("valid_from") and p["valid_from"] > day]


def _land_warnings(land: Land, zones: list[Piece], rules: list[dict]) -> list[dict]:
    """Warnings on the land itself: titles apart, several or marginal zones, area unlike the title's, conditions."""
    out = []
    area = land.area_m2
    real = [p for p in zones if not p.marginal]
    if len(real) > 1:
        out.append(_warning("plusieurs_zones", f"Le terrain est partagé entre {len(real)} zones : chaque partie suit "
                                               "les règles de sa zone."))
    if any(p.marginal for p in zones):
        out.append(_warning("zones_marginales", "Certaines zones ne touchent le terrain que par une bande marginale "
                                                "(imprécision probable du tracé) : elles sont signalées, non ignorées."))
    if land.legal_area_m2 and abs(land.legal_area_m2 - area) / land.legal_area_m2 > 0.05:
        out.append(_warning("contenance_ecart", f"La contenance du titre ({r2(land.legal_area_m2)} m²) diffère de plus "
                                                f"de 5 % de la surface calculée ({r2(area)} m²)."))
    if any(r["undecided_conditions"] for r in rules):
        out.append(_warning("conditions_indeterminees", "Certaines règles dépendent de la largeur de la voie, "
                                                        "inconnue ici."))
    return out


def build_result(*, request: dict, land: Land, day: date, plans: list[dict], rows: list[dict], roads: list[dict],
                 thresholds: tuple[str, dict], apply_inquiry: bool, with_geometry: bool, data_timestamp: str | None,
                 code_version: str) -> dict:
    """Build the whole instruction result (see schema/instruction-result.schema.json)."""
    t_version, t = thresholds
    groups = classify_plans(plans, apply_inquiry)
    covers, conflicts, yielded = _resolve_plans(groups, land)
    found = _find(rows, land, t, plans, groups, yielded)
    area = land.area_m2
    widest = max((float(r["width_m"]) for r in roads if r["width_m"] is not None), default=None)
    zone_cover = (float(shapely.union_all([covers[p["id"]] for p in groups["applied"]]).area) if conflicts
                  else sum(float(p["covered_m2"] or 0) for p in groups["applied"]))
    layers = _layers_out(found, groups, zone_cover, area, t["coverage_full_pct"], with_geometry)
    rules = _rules_out(found.zones, Context(road_width_m=widest, plot_area_m2=area))
    inquiry = [_inquiry_out(plan, found) for plan in groups["inquiry"]]
    conflicts_out = [_conflict(c, area) for c in conflicts]  # the later act applies on the overlap (precedence.py)
    warnings = [w for _, w in inquiry] + [_warning("conflit_de_plans", c["message"]) for c in conflicts_out]
    warnings += _upcoming_warnings(plans, day)
    if land.parts > 1:
        warnings.append(_warning("titres_non_contigus", f"Les titres ne sont pas contigus : le terrain compte "
                                                        f"{land.parts} parties distinctes, instruites ensemble."))
    warnings += _plan_warnings(groups, layers[0], apply_inquiry) + _land_warnings(land, found.zones, rules)
    used = {p["id"] for p in groups["applied"] + groups["sdau"] + groups["inquiry"]}
    partners = _partners_out(found.partners)
    result: dict = {
        "schema": SCHEMA_VERSION,
        "request": request,
        "date": day.isoformat(),
        "crs": "EPSG:26191",
        "land": _land_out(land, found.communes, with_geometry),
        "plans": {"applied": [plan_summary(p) for p in groups["applied"]],
                  "inquiry": [plan_summary(p) for p in groups["inquiry"]],
                  "sdau": [plan_summary(p) for p in groups["sdau"]]},
        "layers": layers,
        "rules": rules,
        "roads": _roads_out(found.prescriptions, roads, widest, area),
        "reservations": _reservations_out(found.prescriptions),
        "servitudes": _servitudes_out(found.prescriptions),
        "sdau": [{"code": p.attrs["code"], "label": p.attrs["label"], "destination": p.attrs["destination"],
                  "area_m2": r2(p.area), "share_pct": r2(p.share), "plan": p.plan} for p in found.sdau],
        "inquiry": [entry for entry, _ in inquiry],
        "conflicts": conflicts_out,
        "warnings": warnings,
        "provenance": {"code_version": code_version, "data_timestamp": data_timestamp,
                       "thresholds": {"version": t_version, **t}, "apply_plans_in_inquiry": apply_inquiry,
                       "plans_used": sorted(p["code"] for p in plans if p["id"] in used)},
    }
    if partners:  # only then: a land no partner layer crosses gets the same result as before issue 16
        result["partners"] = partners
        result["provenance"]["partner_layers_used"] = [{"layer": e["layer"], "source": e["source"],
                                                        "version": e["version"]} for e in partners]
    return result
