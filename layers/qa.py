"""Plan QA: gaps and overlaps between the zones of a plan version, zones without rules, stray prescriptions.

The zones of an SDAU are in `sdau_zones`: the same gap, overlap and perimeter checks run on them (an SDAU
zone has no building rules, so "zones without rules" does not apply).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import psycopg
from psycopg import sql

from layers.plan_terms import REGULATORY_KINDS
from layers.plans import get_plan

MIN_AREA_M2 = 0.01  # below this a difference is floating-point noise, not a digitising error
MIN_LENGTH_M = 0.01

_LOCATION = ("ST_Area({g}), ST_X(ST_PointOnSurface({g})), ST_Y(ST_PointOnSurface({g})), "
             "ST_X(ST_Transform(ST_PointOnSurface({g}), 4326)), ST_Y(ST_Transform(ST_PointOnSurface({g}), 4326))")

GAPS = f"""
WITH z AS (SELECT ST_Union(geom) AS g FROM {{zones}} WHERE plan_id = %(plan)s),
filled AS (  -- without a recorded perimeter, the outline of the zones (their holes are gaps)
    SELECT ST_Union(ST_MakePolygon(ST_ExteriorRing(d.geom))) AS g FROM z, ST_Dump(z.g) AS d),
p AS (SELECT COALESCE(perimeter, (SELECT g FROM filled)) AS g FROM plans WHERE id = %(plan)s)
SELECT {_LOCATION.format(g="d.geom")}
FROM p, z, ST_Dump(ST_Difference(p.g, z.g)) AS d
WHERE ST_Area(d.geom) > %(min_area)s
ORDER BY ST_Area(d.geom) DESC
"""

OVERLAPS = f"""
SELECT a.id, b.id, a.code, b.code, {_LOCATION.format(g="x.g")}
FROM {{zones}} a
JOIN {{zones}} b ON b.plan_id = a.plan_id AND a.id < b.id AND a.geom && b.geom
CROSS JOIN LATERAL (SELECT ST_Intersection(a.geom, b.geom) AS g) x
WHERE a.plan_id = %(plan)s AND ST_Relate(a.geom, b.geom, '2********') AND ST_Area(x.g) > %(min_area)s
ORDER BY ST_Area(x.g) DESC
"""

NO_RULES = f"""
SELECT id, code, sector, {_LOCATION.format(g="geom")} FROM zones
WHERE plan_id = %(plan)s AND height_max_m IS NULL AND storeys_max IS NULL AND footprint_max_pct IS NULL
  AND cos_value IS NULL AND cus_value IS NULL AND min_plot_area_m2 IS NULL AND setback_road_m IS NULL
  AND cardinality(uses_allowed) = 0 AND cardinality(uses_forbidden) = 0 AND regulation_text IS NULL
ORDER BY id
"""

OUTSIDE = f"""
WITH p AS (SELECT COALESCE(perimeter, (SELECT ST_Union(geom) FROM {{zones}} WHERE plan_id = %(plan)s)) AS g
           FROM plans WHERE id = %(plan)s)
SELECT r.id, r.kind, r.code, ST_Length(x.g), {_LOCATION.format(g="x.g")}
FROM prescriptions r, p
CROSS JOIN LATERAL (SELECT ST_Difference(r.geom, p.g) AS g) x
WHERE r.plan_id = %(plan)s AND p.g IS NOT NULL AND NOT ST_CoveredBy(r.geom, p.g)
  AND (ST_Area(x.g) > %(min_area)s OR ST_Length(x.g) > %(min_length)s)
ORDER BY r.id
"""

PLANS_OVERLAP = f"""
SELECT o.code, o.valid_from, o.valid_to, lower(r.span), upper(r.span), p.valid_from = o.valid_from,
       {_LOCATION.format(g="x.g")}
FROM plans p
JOIN plans o ON o.id <> p.id AND o.kind = ANY(%(kinds)s) AND o.valid_from IS NOT NULL AND o.perimeter && p.perimeter
CROSS JOIN LATERAL (SELECT daterange(p.valid_from, p.valid_to) * daterange(o.valid_from, o.valid_to) AS span) r
CROSS JOIN LATERAL (SELECT ST_Intersection(p.perimeter, o.perimeter) AS g) x
WHERE p.id = %(plan)s AND p.kind = ANY(%(kinds)s) AND p.valid_from IS NOT NULL
  AND NOT isempty(r.span) AND plan_in_force(p.id, lower(r.span)) AND plan_in_force(o.id, lower(r.span))
  AND ST_Relate(p.perimeter, o.perimeter, '2********') AND ST_Area(x.g) > %(min_area)s
ORDER BY lower(r.span), o.code
"""


@dataclass
class Finding:
    """One problem with its size and where it is (EPSG:26191 and WGS 84)."""

    kind: str  # gap, overlap, no_regulation, outside_perimeter, plans_overlap
    area_m2: float
    x: float
    y: float
    lon: float
    lat: float
    detail: str
    length_m: float | None = None


@dataclass
class QAReport:
    """The QA of one plan version."""

    plan_code: str
    perimeter: str
    zone_count: int
    findings: list[Finding] = field(default_factory=list)
    min_area_m2: float = MIN_AREA_M2
    kind: str = "PA"

    @property
    def ok(self) -> bool:
        """Whether nothing was found."""
        return not self.findings

    def of(self, kind: str) -> list[Finding]:
        """Findings of one kind."""
        return [f for f in self.findings if f.kind == kind]

    def to_dict(self) -> dict:
        """The report as JSON-ready data."""
        return {"plan": self.plan_code, "perimeter": self.perimeter, "zones": self.zone_count,
                "min_area_m2": self.min_area_m2, "ok": self.ok,
                "counts": {k: len(self.of(k)) for k in LABELS},
                "findings": [asdict(f) for f in self.findings]}

    def describe(self) -> str:
        """A French report: one section per kind, each finding with its area and location."""
        lines = [f"Contrôle du plan {self.plan_code} ({self.kind}) : {self.zone_count} zone(s)"
                 f"{' du SDAU (sdau_zones)' if self.kind == 'SDAU' else ''}, périmètre : {self.perimeter}"]
        for kind, label in LABELS.items():
            found = self.of(kind)
            if kind == "no_regulation" and self.kind == "SDAU":
                lines.append(f"- {label} : sans objet pour un SDAU (orientations, pas de règlement)")
                continue
            lines.append(f"- {label} : {len(found) if found else 'aucun'}")
            for f in found[:50]:
                size = f"{f.length_m:.2f} m" if f.length_m and f.area_m2 < MIN_AREA_M2 else f"{f.area_m2:.2f} m²"
                lines.append(f"    {size} en ({f.x:.2f}, {f.y:.2f}) EPSG:26191 / ({f.lon:.6f}, {f.lat:.6f}) WGS 84"
                             f" — {f.detail}")
            if len(found) > 50:
                lines.append(f"    … et {len(found) - 50} autre(s) (--json pour tout voir)")
        if not self.zone_count:
            lines.append("Aucune zone enregistrée pour ce plan : trous, chevauchements et règlements non contrôlés.")
        lines.append("Aucun problème détecté." if self.ok else f"{len(self.findings)} problème(s) au total.")
        return "\n".join(lines)


LABELS = {"gap": "trous entre zones", "overlap": "chevauchements de zones", "no_regulation": "zones sans règlement",
          "outside_perimeter": "prescriptions hors du périmètre",
          "plans_overlap": "autres plans en vigueur sur le même sol"}


def check_plan(conn: psycopg.Connection, plan_code: str, min_area_m2: float = MIN_AREA_M2) -> QAReport:
    """Run every check on one plan version."""
    plan = get_plan(conn, plan_code)
    table = sql.Identifier("sdau_zones" if plan["kind"] == "SDAU" else "zones")
    params = {"plan": plan["id"], "min_area": min_area_m2, "min_length": MIN_LENGTH_M, "kinds": list(REGULATORY_KINDS)}
    has_perimeter, zone_count = conn.execute(sql.SQL(
        "SELECT perimeter IS NOT NULL, (SELECT count(*) FROM {zones} WHERE plan_id = %(plan)s) FROM plans "
        "WHERE id = %(plan)s").format(zones=table), params).fetchone()
    report = QAReport(plan_code, "enregistré avec le plan" if has_perimeter else
                      "non enregistré : contour des zones (seuls les trous intérieurs sont vus)", zone_count,
                      min_area_m2=min_area_m2, kind=plan["kind"])
    if zone_count:
        for area, x, y, lon, lat in conn.execute(sql.SQL(GAPS).format(zones=table), params):
            report.findings.append(Finding("gap", area, x, y, lon, lat, "surface du périmètre couverte par aucune zone"))
        for a, b, ca, cb, area, x, y, lon, lat in conn.execute(sql.SQL(OVERLAPS).format(zones=table), params):
            report.findings.append(Finding("overlap", area, x, y, lon, lat, f"zones {a} ({ca}) et {b} ({cb})"))
    if zone_count and plan["kind"] != "SDAU":  # an SDAU zone carries orientations, not building rules
        for zid, code, sector, area, x, y, lon, lat in conn.execute(NO_RULES, params):
            report.findings.append(Finding("no_regulation", area, x, y, lon, lat,
                                           f"zone {zid} ({code}{'/' + sector if sector else ''}) sans aucune règle"))
    for pid, kind, code, length, area, x, y, lon, lat in conn.execute(sql.SQL(OUTSIDE).format(zones=table), params):
        report.findings.append(Finding("outside_perimeter", area, x, y, lon, lat,
                                       f"prescription {pid} ({kind}{' ' + code if code else ''}) déborde du périmètre",
                                       length_m=length))
    for code, start, end, since, until, same_day, area, x, y, lon, lat in conn.execute(PLANS_OVERLAP, params):
        detail = _overlap_detail(code, start, end, since, until, same_day)
        report.findings.append(Finding("plans_overlap", area, x, y, lon, lat, detail))
    return report


def _overlap_detail(code: str, start: object, end: object, since: object, until: object, same_day: bool) -> str:
    """How two plans in force overlap in time, and which one applies (instruction/precedence.py)."""
    period = f"du {since} au {until} (exclu)" if until else f"depuis le {since}"
    what = ("entrés en vigueur le même jour : l'instruction refuse d'en choisir un (409) tant que ce n'est pas "
            "corrigé" if same_day else "l'instruction y applique le plus récent et le signale (conflit_de_plans)")
    return f"plan {code} (en vigueur du {start} au {end or '—'}) : tous deux en vigueur {period} sur ce sol ; {what}"
