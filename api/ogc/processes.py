"""OGC API Processes: instruction, the permit, subdivision and licence checks, the buildable envelope (executed
synchronously) and the plan impact (long: an asynchronous job, see layers/jobs.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import psycopg

from api.inputs import field, kind_of
from api.ogc.features import OgcError
from gis.dates import day_message, read_day
from gis.errors import InputError, NotFound
from instruction.checks import licence_check, lot_check, permit_check
from instruction.engine import Options, check_land, instruct
from instruction.envelope import assumptions_of, stored_envelope
from instruction.impact import Progress, plan_impact
from instruction.land import LandRequest

GEOJSON_GEOMETRY = {"type": "object", "required": ["type", "coordinates"],
                    "properties": {"type": {"type": "string", "enum": ["Polygon", "MultiPolygon"]},
                                   "coordinates": {"type": "array", "items": {"type": "array"}}}}
LAND = {"title": "terrain", "description": "références foncières, ou géométrie GeoJSON, ou point [x, y]",
        "schema": {"type": "object", "minProperties": 1, "maxProperties": 1, "additionalProperties": False,
                   "properties": {
            "refs": {"type": "array", "items": {"type": "string"}, "minItems": 1, "examples": [["TF 3875/C"]]},
            "geometry": GEOJSON_GEOMETRY,
            "point": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}}}}
CRS_INPUT = {"title": "SCR des géométries", "schema": {"type": "string", "default": "OGC:CRS84",
                                                       "examples": ["EPSG:26191"]}}
DATE_INPUT = {"title": "date de la situation", "schema": {"type": "string", "format": "date"}}
PROJECT = {"title": "projet", "schema": {"type": "object", "additionalProperties": False, "properties": {
    "use": {"type": "string"}, "storeys": {"type": "integer", "minimum": 0}, "height_m": {"type": "number"},
    "floor_area_m2": {"type": "number"}, "footprint_area_m2": {"type": "number"}, "footprint": GEOJSON_GEOMETRY,
    "basement": {"type": "boolean"}}}}
GEOMS = {"type": "array", "items": GEOJSON_GEOMETRY}
PROCESSES = {
    "instruction": {"title": "Instruction d'un terrain", "description": "Ce que les plans permettent sur un terrain à "
                    "une date : zones et parts, règles, voirie, réserves, servitudes, SDAU, avertissements.",
                    "inputs": {"land": LAND, "crs": CRS_INPUT, "date": DATE_INPUT,
                               "geometry": {"title": "inclure les géométries", "schema": {"type": "boolean"}}}},
    "permit-check": {"title": "Contrôle d'un permis de construire", "description": "Règle par règle : conforme, non "
                     "conforme, sans objet ou indéterminé, avec la mesure, la limite et sa source.",
                     "inputs": {"land": LAND, "crs": CRS_INPUT, "date": DATE_INPUT, "project": PROJECT}},
    "lot-check": {"title": "Contrôle d'un lotissement", "description": "Lots dans le terrain, sans chevauchement, "
                  "surface et façade minimales, accès à une voie.",
                  "inputs": {"land": LAND, "crs": CRS_INPUT, "date": DATE_INPUT,
                             "lots": {"title": "lots", "schema": {"type": "array", "items": {"type": "object",
                                      "required": ["geometry"], "properties": {"id": {"type": "string"},
                                                                               "geometry": GEOJSON_GEOMETRY}}}},
                             "internal_roads": {"title": "voies internes", "schema": GEOMS},
                             "green_spaces": {"title": "espaces verts", "schema": GEOMS},
                             "facilities": {"title": "équipements", "schema": GEOMS}}},
    "licence-check": {"title": "Contrôle d'une activité économique", "description": "Compatibilité avec la zone, "
                      "distances réglementaires (pharmacies), domaine public.",
                      "inputs": {"location": LAND, "crs": CRS_INPUT, "date": DATE_INPUT,
                                 "activity": {"title": "activité du catalogue", "schema": {"type": "string", "enum": [
                                     "pharmacy", "tobacco_shop", "cafe_restaurant", "classified_1", "classified_2",
                                     "classified_3", "terrace"]}},
                                 "filed_at": {"title": "date et heure de dépôt", "schema": {"type": "string",
                                                                                          "format": "date-time"}}}},
    "envelope": {"title": "Enveloppe constructible d'un terrain", "description": "Par partie de zone : le terrain "
                 "moins les emprises de voirie, réserves et reculs, l'emprise au sol, la hauteur et la surface de "
                 "plancher maximales, avec la règle qui limite chacune.",
                 "inputs": {"land": LAND, "crs": CRS_INPUT, "date": DATE_INPUT,
                            "output_crs": {"title": "SCR des polygones du résultat",
                                           "schema": {"type": "string", "default": "EPSG:26191",
                                                      "examples": ["OGC:CRS84"]}}}},
    "plan-impact": {"title": "Impact d'une version de plan", "description": "Parcelle par parcelle, entre deux "
                    "versions de plan : zone, surface de plancher maximale, usages gagnés et perdus, surface "
                    "nouvellement réservée ou en élargissement ; agrégats par arrondissement et par zone. Réservé "
                    "aux partenaires (clé d'API, en-tête X-API-Key) et aux agents de l'agence connectés.",
                    "inputs": {"from_plan": {"title": "version de plan de départ (code)", "schema": {"type": "string"}},
                               "to_plan": {"title": "version de plan comparée (code)", "schema": {"type": "string"}},
                               "area": {"title": "commune ou arrondissement (code), sinon tout le plan",
                                        "schema": {"type": "string"}}}},
}
REQUIRED = {"instruction": {"land"}, "permit-check": {"land", "project"}, "lot-check": {"land", "lots"},
            "licence-check": {"location", "activity"}, "envelope": {"land"}, "plan-impact": {"from_plan", "to_plan"}}


# Every process runs as a job on request (Prefer: respond-async); the plan impact of a whole plan takes longer than
# a request's time budget (URBASIG_BUDGET_CHECKS_S), so it runs only as a job, even when the client asks nothing.
ASYNC_ONLY = frozenset({"plan-impact"})
# A whole plan's impact writes a row per parcel of the territory: offered to partner keys and agency accounts only
# (api/ogc/routes.py answers 401 / 403 to others), never to anonymous callers.
KEY_OR_STAFF = frozenset({"plan-impact"})


def job_control(pid: str) -> list[str]:
    """How a process may be executed (OGC jobControlOptions)."""
    return ["async-execute"] if pid in ASYNC_ONLY else ["sync-execute", "async-execute"]


def _summary(base: str, pid: str) -> dict:
    p = PROCESSES[pid]
    return {"id": pid, "title": p["title"], "description": p["description"], "version": "1.0",
            "jobControlOptions": job_control(pid), "outputTransmission": ["value"],
            "links": [{"href": f"{base}/processes/{pid}", "rel": "self", "type": "application/json"},
                      {"href": f"{base}/processes/{pid}/execution", "rel": "http://www.opengis.net/def/rel/ogc/1.0/"
                       "execute", "type": "application/json"}]}


def process_list(base: str) -> dict:
    """Every process."""
    return {"processes": [_summary(base, pid) for pid in PROCESSES],
            "links": [{"href": f"{base}/processes", "rel": "self", "type": "application/json"}]}


def process_description(base: str, pid: str) -> dict:
    """A process with its input schemas."""
    if pid not in PROCESSES:
        raise NotFound(f"processus inconnu : « {pid} » (processus : {', '.join(PROCESSES)})")
    inputs = {name: {**spec, "minOccurs": 1 if name in REQUIRED[pid] else 0, "maxOccurs": 1}
              for name, spec in PROCESSES[pid]["inputs"].items()}
    return {**_summary(base, pid), "inputs": inputs,
            "outputs": {"result": {"title": "résultat", "schema": {"type": "object",
                                                                   "contentMediaType": "application/json"}}}}


def _land(value: object, crs: str | None, what: str) -> LandRequest:
    if not isinstance(value, dict):
        raise OgcError(f"« {what} » : objet attendu {{refs | geometry | point}} (reçu {kind_of(value)})")
    unknown = set(value) - {"refs", "geometry", "point"}
    if unknown:
        raise OgcError(f"{what} : champ(s) inconnu(s) {sorted(unknown)}")
    refs = value.get("refs") or ()
    if isinstance(refs, str):
        refs = (refs,)
    if not isinstance(refs, list | tuple) or not all(isinstance(r, str) for r in refs):
        raise OgcError(f"{what}.refs : liste de références attendue")
    point = value.get("point")
    if point is not None and (not isinstance(point, list) or len(point) != 2
                              or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in point)):
        raise OgcError(f"{what}.point : deux nombres attendus [x, y]")
    geometry = value.get("geometry")
    if geometry is not None and not isinstance(geometry, dict):
        raise OgcError(f"{what}.geometry : géométrie GeoJSON attendue")
    return LandRequest(refs=tuple(refs), geometry=geometry, point=tuple(point) if point else None, crs=crs)


def _date(value: object) -> date | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise OgcError(f"« date » : date AAAA-MM-JJ attendue en texte (reçu {kind_of(value)})")
    try:
        return read_day(value)
    except InputError:
        raise OgcError(day_message(value)) from None


PROJECT_FIELDS = {"use": str, "storeys": int, "height_m": float, "floor_area_m2": float, "footprint_area_m2": float,
                  "footprint": dict, "basement": bool}


def _typed(value: object, what: str, kinds: dict[str, type]) -> None:
    """Check the type of each known member of an object (unknown members are the pure checks' business)."""
    if not isinstance(value, dict):
        raise OgcError(f"« {what} » : un objet {{…}} est attendu (reçu {kind_of(value)})")
    for name, kind in kinds.items():
        field(value, name, kind, where=f"{what}.", max_len=200 if kind is str else None)


def _geometry_list(value: object, what: str) -> None:
    if value is None:
        return
    if not isinstance(value, list):
        raise OgcError(f"« {what} » : une liste de géométries GeoJSON est attendue (reçu {kind_of(value)})")
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise OgcError(f"« {what}[{i}] » : une géométrie GeoJSON (objet) est attendue (reçu {kind_of(item)})")


def _check_inputs(pid: str, inputs: dict) -> None:
    """The types of the inputs each process reads, before any of them reaches the engine (400 otherwise)."""
    field(inputs, "crs", str, max_len=200, where="inputs.")
    if pid == "instruction":
        field(inputs, "geometry", bool, where="inputs.")
    if pid == "permit-check":
        _typed(inputs["project"], "project", PROJECT_FIELDS)
    if pid == "lot-check":
        lots = field(inputs, "lots", list, required=True, where="inputs.")
        for i, lot in enumerate(lots):
            _typed(lot, f"lots[{i}]", {"id": (str, int), "geometry": dict})
        for name in ("internal_roads", "green_spaces", "facilities"):
            _geometry_list(inputs.get(name), name)
    if pid == "licence-check":
        field(inputs, "activity", str, required=True, max_len=100, where="inputs.")
        field(inputs, "filed_at", str, max_len=64, where="inputs.")
    if pid == "envelope":
        field(inputs, "output_crs", str, max_len=200, where="inputs.")
    if pid == "plan-impact":
        for name in ("from_plan", "to_plan"):
            field(inputs, name, str, required=True, max_len=100, where="inputs.")
        field(inputs, "area", str, max_len=100, where="inputs.")


def checked_inputs(pid: str, body: object) -> dict:
    """The inputs of an execute request, their names and types checked (400 otherwise; 404 for an unknown process)."""
    if pid not in PROCESSES:
        raise NotFound(f"processus inconnu : « {pid} »")
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), dict):
        raise OgcError("corps attendu : {\"inputs\": {...}}")
    inputs = body["inputs"]
    unknown = set(inputs) - set(PROCESSES[pid]["inputs"])
    if unknown:
        raise OgcError(f"entrée(s) inconnue(s) : {', '.join(sorted(unknown))} (entrées : "
                       f"{', '.join(PROCESSES[pid]['inputs'])})")
    missing = REQUIRED[pid] - set(inputs)
    if missing:
        raise OgcError(f"entrée(s) obligatoire(s) manquante(s) : {', '.join(sorted(missing))}")
    _check_inputs(pid, inputs)
    crs = inputs.get("crs")
    if crs is not None and (not isinstance(crs, str) or len(crs) > 200):
        raise OgcError("crs : texte attendu, 200 caractères au plus (ex. EPSG:26191)")
    _date(inputs.get("date"))
    return inputs


def precheck(conn: psycopg.Connection, pid: str, inputs: dict, options: Options) -> None:
    """Before a job is accepted, what its run would refuse at once: the land as designated (titles' syntax, the
    geometry or the point, with the same limits), and for a plan impact the pair and the area as the run checks
    them (layers/impact.py: both plans known, two different regulatory plans that overlap; the commune known and
    covered by both). A title that is not in the cadastre is found out by the run (a failed job, with the same
    message as a synchronous call)."""
    for name in ("land", "location"):
        if name in inputs:
            check_land(_land(inputs[name], inputs.get("crs"), name), options)
    if pid == "envelope":
        from instruction.envelope import check_request

        check_request(_land(inputs["land"], inputs.get("crs"), "land"), options, inputs.get("output_crs"))
    if pid == "plan-impact":
        from layers.communes import find_commune
        from layers.impact import check_area, plan_pair

        from_plan, to_plan, _shared = plan_pair(conn, inputs["from_plan"], inputs["to_plan"])
        if inputs.get("area") is not None:
            commune = find_commune(conn, inputs["area"])
            check_area(conn, commune["code"], commune["name"], from_plan, to_plan)


def execute(conn: psycopg.Connection, pid: str, body: object, options: Options) -> dict:
    """Run a process synchronously on its JSON inputs."""
    return run(conn, pid, checked_inputs(pid, body), options)


def run(conn: psycopg.Connection, pid: str, inputs: dict, options: Options, progress: Progress | None = None,
        job_id: str | None = None) -> dict:
    """Run a process on inputs checked by `checked_inputs` (synchronously, or by the job runner with `progress`)."""
    crs = inputs.get("crs")
    day = _date(inputs.get("date"))
    if pid == "instruction":
        with_geometry = bool(inputs.get("geometry", False))
        return instruct(conn, _land(inputs["land"], crs, "land"), day,
                        replace(options, with_geometry=with_geometry))
    if pid == "permit-check":
        return permit_check(conn, _land(inputs["land"], crs, "land"), inputs["project"], day, options, crs)
    if pid == "lot-check":
        return lot_check(conn, _land(inputs["land"], crs, "land"), inputs["lots"], inputs.get("internal_roads"),
                         inputs.get("green_spaces"), inputs.get("facilities"), day, options, crs)
    if pid == "envelope":
        return stored_envelope(conn, _land(inputs["land"], crs, "land"), day, options, inputs.get("output_crs"))
    if pid == "plan-impact":
        return plan_impact(conn, inputs["from_plan"], inputs["to_plan"], inputs.get("area"), publish=False,
                           progress=progress, job_id=job_id, assumptions=assumptions_of(options))
    activity = inputs["activity"]
    if not isinstance(activity, str):
        raise OgcError("activity : texte attendu")
    return licence_check(conn, _land(inputs["location"], crs, "location"), activity, inputs.get("filed_at"), day,
                         options)
