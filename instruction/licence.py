"""Economic licence check, pure: zone compatibility, distance rules, public domain (catalogue is data)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from gis.errors import InputError
from instruction.findings import r2
from instruction.permit import FAIL, NA, PASS, UNKNOWN, _rule
from instruction.rules import use_status

CASABLANCA = ZoneInfo("Africa/Casablanca")


def activity_of(catalogue: dict, code: str) -> dict:
    """The catalogue entry of an activity, or a 400 listing the known ones."""
    activities = catalogue["activities"]
    if code not in activities:
        raise InputError(f"activité inconnue : « {code} » (catalogue : {', '.join(sorted(activities))})")
    return activities[code]


def _parse_time(value: object) -> datetime | None:
    if value is None:
        return None
    try:
        when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        raise InputError(f"date et heure de dépôt invalides : « {value} » (ISO 8601, ex. 2026-11-23T09:30:00+01:00)") \
            from None
    # a time without offset is Casablanca's: compared with stored filings (timestamptz), never a TypeError
    return when if when.tzinfo else when.replace(tzinfo=CASABLANCA)


def zone_compatibility(activity: dict, zones: list[dict], catalogue: dict) -> list[dict]:
    """One rule per non-marginal zone: classes 1–2 barred from residential zones, then the zone's use lists."""
    out = []
    residential = tuple(catalogue.get("residential_dominant_uses", ["habitat"]))
    for rule in zones:
        zone = rule["zone"]
        src = {"plan": zone["plan"], "zone": zone["code"], "sector": zone["sector"], "article": rule.get("article")}
        label = f"compatibilité avec la zone {zone['code']}"
        dominant = (rule.get("dominant_use") or "").lower()
        if activity.get("class") in (1, 2) and dominant.startswith(residential):
            out.append(_rule("zone_compatibility", label, FAIL, dominant, None, "", src,
                             message=f"établissement classé de {activity['class']}e catégorie refusé en zone "
                                     "résidentielle (dahir de 1914)"))
            continue
        if not activity.get("use"):
            out.append(_rule("zone_compatibility", label, NA, dominant, None, "", src))
            continue
        status = use_status(activity["use"], rule)
        verdict = {"allowed": PASS, "forbidden": FAIL, "conditional": UNKNOWN, "unknown": UNKNOWN}[status]
        message = {"conditional": "usage soumis à conditions", "unknown": "usage non cité par le règlement",
                   "forbidden": "usage interdit par le règlement de la zone"}.get(status)
        out.append(_rule("zone_compatibility", label, verdict, activity["use"], None, "", src, message=message))
    if not zones:
        out.append(_rule("zone_compatibility", "compatibilité avec le zonage", UNKNOWN,
                         message="aucune zone de plan d'aménagement en ce lieu"))
    return out


def distance_rule(rule: dict, nearby: list[dict], method: str, filed_at: object, nearest_listed: int) -> dict:
    """Minimum distance to establishments of a kind; between pending requests the earlier filing wins."""
    label = f"distance d'au moins {rule['min_m']} m de tout établissement « {rule['kind']} »"
    listed = [{"id": e["id"], "name": e["name"], "status": e["status"], "distance_m": r2(e["distance_m"]),
               "filed_at": e["filed_at"].isoformat() if e.get("filed_at") else None} for e in nearby[:nearest_listed]]
    source = {"rule": rule.get("source")}
    if method != "straight":
        return {**_rule("distance", label, UNKNOWN, None, rule["min_m"], "m", source,
                        message="distance à pied non disponible : réglez distance_method sur « straight »"),
                "nearest": listed}
    mine = _parse_time(filed_at)
    conflicts, deferred, undecided = [], [], []
    for e in nearby:
        if e["distance_m"] >= rule["min_m"]:
            continue
        if e["status"] == "ouvert":
            conflicts.append(e)
        elif mine is None or e.get("filed_at") is None:
            undecided.append(e)
        elif e["filed_at"] < mine:
            conflicts.append(e)
        else:
            deferred.append(e)
    nearest = nearby[0]["distance_m"] if nearby else None
    message: str | None
    if conflicts:
        status = FAIL
        message = f"{len(conflicts)} établissement(s) à moins de {rule['min_m']} m, le plus proche à " \
                  f"{r2(conflicts[0]['distance_m'])} m"
        measured = r2(conflicts[0]["distance_m"])
    elif undecided:
        status, measured = UNKNOWN, r2(undecided[0]["distance_m"])
        message = "demande concurrente en cours : indiquez la date et l'heure de dépôt pour la priorité"
    else:
        status, measured = PASS, r2(nearest) if nearest is not None else None
        message = (f"priorité sur {len(deferred)} demande(s) déposée(s) plus tard" if deferred else None)
    return {**_rule("distance", label, status, measured, rule["min_m"], "m", source, message=message),
            "nearest": listed}


def public_domain_rule(share: float) -> dict:
    """A terrace or kiosk stands on public domain only."""
    ok = share >= 0.99
    return _rule("public_domain", "implantation sur le domaine public", PASS if ok else FAIL, r2(100 * share), 99.0,
                 "% sur la voirie", message=None if ok else "hors du domaine public (voirie)")
