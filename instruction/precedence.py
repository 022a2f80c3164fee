"""Which regulatory plan applies where two of them are in force on the same ground (pure).

Two binding zoning documents (PA, plan de secteur, plan de zonage, PDAR…) must never both apply to the same
land on the same day. When the recorded data says they do (a perimeter drawn too wide, a version not ended
when its successor came into force), the **later act wins on the overlap** (lex posterior): the plan that
entered into force last (``valid_from``; a plan in public inquiry applied by setting counts from its
inquiry date) governs the part of the land both cover; the other keeps the rest. The overlap is reported
as a named conflict with both plans, the area and the dates, never silently. Two plans that entered into
force the same day cannot be ranked: that is refused (409) until the data is corrected (`urbasig qa`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import shapely
from shapely.geometry.base import BaseGeometry

from gis.errors import Conflict

NOISE_M2 = 0.01  # below this an overlap of perimeters is floating-point noise


def in_force_since(plan: dict) -> date | None:
    """The day a plan started to apply: entry into force, else the date of the status that applied it."""
    return plan.get("valid_from") or plan.get("status_since")


@dataclass(frozen=True)
class PlanConflict:
    """Two plans in force on the same ground; `applied` wins on the overlap, `set_aside` keeps the rest."""

    applied: dict
    set_aside: dict
    overlap: BaseGeometry

    @property
    def overlap_m2(self) -> float:
        """Area of the ground both plans cover."""
        return float(self.overlap.area)


def resolve(plans: list[dict], covers: dict[int, BaseGeometry],
            noise_m2: float = NOISE_M2) -> tuple[list[PlanConflict], dict[int, BaseGeometry]]:
    """The conflicts between `plans` (each with id, code, dates) and, per plan, the ground it yields to newer ones.

    `covers` maps a plan id to the ground it covers here (the land, or the commune, within its perimeter).
    """
    ranked = sorted(plans, key=lambda p: (in_force_since(p) or date.min, p["code"]), reverse=True)
    conflicts: list[PlanConflict] = []
    yielded: dict[int, list[BaseGeometry]] = {}
    for i, newer in enumerate(ranked):
        # the ground the newer plan really governs: what it does not itself yield to a still newer one
        governed = covers[newer["id"]]
        if newer["id"] in yielded:
            governed = shapely.difference(governed, shapely.union_all(yielded[newer["id"]]))
        for older in ranked[i + 1:]:
            overlap = shapely.intersection(governed, covers[older["id"]])
            if overlap.is_empty or overlap.area <= noise_m2:
                continue
            if in_force_since(newer) == in_force_since(older):
                raise Conflict(
                    f"les plans {older['code']} et {newer['code']} sont tous deux en vigueur depuis le "
                    f"{in_force_since(newer)} sur {overlap.area:.2f} m² de ce terrain : impossible de dire lequel "
                    "s'applique ; la base doit être corrigée (urbasig qa)")
            conflicts.append(PlanConflict(newer, older, overlap))
            yielded.setdefault(older["id"], []).append(overlap)
    return conflicts, {pid: shapely.union_all(parts) for pid, parts in yielded.items()}
