"""The vocabulary of plan versions, declared once: kinds, statuses and their French labels.

Pure data (no database): the instruction engine, the command line, the imports and a test against the
database's CHECK constraints all read it from here.
"""

from __future__ import annotations

PLAN_KINDS: dict[str, str] = {
    "PA": "plan d'aménagement",
    "SDAU": "schéma directeur d'aménagement urbain",
    "PS": "plan de secteur",
    "PZ": "plan de zonage",
    "PDAR": "plan de développement d'agglomération rurale",
    "autre": "autre document",
}
REGULATORY_KINDS: tuple[str, ...] = ("PA", "PS", "PZ", "PDAR", "autre")  # binding zoning (the SDAU is context)

# In the order a plan goes through them (the order also breaks ties between statuses of the same day).
PLAN_STATUSES: dict[str, str] = {
    "etude": "en étude",
    "enquete_publique": "en enquête publique",
    "homologue": "homologué",
    "remplace": "remplacé",
    "abroge": "abrogé",
    "annule": "annulé",
}
ENDING_STATUSES: tuple[str, ...] = ("remplace", "abroge", "annule")  # the plan no longer applies from that day


def status_label(status: str | None) -> str:
    """The French label of a status code ("—" for none)."""
    if status is None:
        return "—"
    return PLAN_STATUSES.get(status, status)
