"""Lenient parsing and normalisation of Moroccan land references.

"TF 3875/C", "T.3875/C", "T.F. n° 3875/C", "TF-3875-C" and "tf3875-c" are the same title; "R 1234/C",
"R-1234-C" or "Réq. 1234/C" is a réquisition (land in registration); "NI" or "non immatriculé" is untitled land.

Grammar (after folding case and accents): [prefix [one of space, "." or "-"]] [n°] number [suffix], where the
suffix follows "/" or "-" (with or without spaces), or a space when it starts with a letter: "TF 3875 C" is
TF 3875/C but "TF 3875 12" is two numbers and is refused. Numbers are 1 to 8 ASCII digits, not zero;
suffixes 1 to 4 letters or digits. Without a prefix the land is a titre foncier.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from gis.errors import LandRefError

KINDS = {"TF": "titre foncier", "R": "réquisition", "NI": "non immatriculé"}

_UNTITLED = re.compile(r"N\.?\s*I\.?|NON[\s.-]*IMMATRICULEE?S?")
_PREFIX = r"T\.?\s*F\.?|TITRE(?:\s+FONCIER)?|T\.?|REQUISITION|REQ\.?|R\.?"
_REF = re.compile(
    rf"(?:(?P<prefix>{_PREFIX})\s*[.\-]?\s*)?"  # a space, dot or hyphen may part the prefix from the number
    r"(?:(?:N\s*°|NO\.?|N\.)\s*)?"
    r"(?P<number>[0-9]{1,8})"
    r"(?:\s*[/\-]\s*(?P<suffix>[A-Z0-9]{1,4})|\s+(?P<word>[A-Z][A-Z0-9]{0,3}))?"  # "TF 1 2": two numbers
)


@dataclass(frozen=True, order=True)
class LandRef:
    """A normalised land reference."""

    kind: str  # "TF", "R" or "NI"
    number: int | None = None
    suffix: str | None = None

    @property
    def normalized(self) -> str | None:
        """The canonical text ("TF 3875/C"), or None for untitled land."""
        if self.kind == "NI":
            return None
        text = f"{self.kind} {self.number}"
        return f"{text}/{self.suffix}" if self.suffix else text

    def __str__(self) -> str:
        return self.normalized or "non immatriculé"


def _fold(text: str) -> str:
    if text.isascii():  # the common case: no accents to strip
        return " ".join(text.upper().split())
    decomposed = unicodedata.normalize("NFKD", text)
    ascii_text = "".join(c for c in decomposed if not unicodedata.combining(c) or c == "°")
    return re.sub(r"\s+", " ", ascii_text.replace("º", "°").upper()).strip()


_CANONICAL = re.compile(r"(TF|R) ([1-9][0-9]{0,7})(?:/([A-Z0-9]{1,4}))?")


def parse_land_ref(text: str | None) -> LandRef:
    """Parse a land reference leniently; raise LandRefError with an example when it cannot be read."""
    if isinstance(text, str) and (canonical := _CANONICAL.fullmatch(text)):  # fast path: already normalised
        return LandRef(canonical[1], int(canonical[2]), canonical[3])
    if text is None or not str(text).strip():
        raise LandRefError("référence foncière vide : indiquez par exemple « TF 3875/C » ou « R 1234/C »")
    folded = _fold(str(text))
    if _UNTITLED.fullmatch(folded):
        return LandRef("NI")
    match = _REF.fullmatch(folded)
    if match is None:
        raise LandRefError(
            f"référence foncière illisible : « {text} » ; formes acceptées : « TF 3875/C », « T.3875/C », "
            "« TF-3875-C », « R 1234/C » (réquisition), « non immatriculé »"
        )
    prefix = (match["prefix"] or "T").replace(".", "").replace(" ", "")
    kind = "R" if prefix.startswith("R") else "TF"
    number = int(match["number"])
    if number == 0:
        raise LandRefError(f"référence foncière invalide : « {text} » (numéro nul)")
    return LandRef(kind, number, match["suffix"] or match["word"])
