"""Understand what a person typed in the one search box (pure: no database, no Flask, no clock).

One text, one reading, tried in this order:

- **coordinates** in degrees-minutes-seconds (« 33°28'19.5"N 7°42'14.7"W », « 33 28 19.5 N 7 42 14.7 W »,
  with ′ ″ too, O for ouest), lon/lat in decimal degrees (« -7.70408, 33.47208 » or « 33.47208 -7.70408 »:
  Morocco has negative longitudes and latitudes of 21° to 36°, which tells one from the other), or Lambert
  metres of EPSG:26191 as on cadastral plans (« 296512.3 331245.8 », « X=296512 Y=331245 », separated by a
  space, a comma or a semicolon, decimal comma allowed). Without labels, x,y comes first and y,x is kept as
  the alternative when it is plausible too (the lookup tries it when x,y falls on no commune);
- a **street address**: a house number and a street, or a street alone (« 12 rue Ibnou Sina »,
  « rue ibnou sina 12 »), recognised by its street word (rue, avenue, bd…) or by its number followed by words;
- a **land title**, complete or partial while typing (gis/landref.py's lenient grammar: « TF 56883/C »,
  « tf56883-c », « T.45206/C », « titre 56883 C », « R 1234/C »; « TF 568 » is the prefix of TF 568…);
- **words**: a commune or arrondissement name (or a street name without its street word), folded: case,
  accents, hyphens and apostrophes ignored (« ain chock » is « Aïn Chock »).

Anything else is `inconnu`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from gis.errors import LandRefError
from gis.landref import _fold as _fold_ref
from gis.landref import parse_land_ref

KINDS = ("titre", "lambert", "lonlat", "adresse", "commune", "inconnu")
MAX_CHARS = 200

# EPSG:26191's area of use (Morocco north of 31°30'N) in its own metres, from PROJ's database, rounded out:
# a pair outside it cannot be Nord Maroc coordinates.
LAMBERT_X = (70_000.0, 925_000.0)
LAMBERT_Y = (95_000.0, 610_000.0)
# Morocco (with the southern provinces): longitudes west of Greenwich, latitudes of the northern hemisphere.
LON_RANGE = (-17.5, -0.9)
LAT_RANGE = (20.5, 36.1)

STREET_WORDS = frozenset({
    "rue", "r", "avenue", "av", "ave", "boulevard", "bd", "bld", "blvd", "place", "pl", "impasse", "imp", "derb",
    "zankat", "zenkat", "znk", "chemin", "route", "rte", "allee", "lotissement", "lot", "residence", "res",
    "rond", "angle", "passage", "square", "km", "nahj", "charia", "zanqat",
})
# How people shorten or spell street words, and the form the addresses are written in (« bd » → « boulevard »,
# « ibnou » → « ibn »): the query is rewritten so the exact spelling meets the prefix index first.
STREET_CANONICAL = {"r": "rue", "av": "avenue", "ave": "avenue", "bd": "boulevard", "bld": "boulevard",
                    "blvd": "boulevard", "boul": "boulevard", "pl": "place", "imp": "impasse", "rte": "route",
                    "res": "residence", "znk": "zankat", "zenkat": "zankat", "zanqat": "zankat", "ibnou": "ibn",
                    "ibnu": "ibn", "bnou": "ibn", "my": "moulay", "mly": "moulay"}
def _latin_letters() -> dict[str, str]:
    """Each Latin letter with diacritics (Latin-1 to Latin Extended Additional) → its bare lower-case letter."""
    out = {}
    for code in (*range(0xC0, 0x250), *range(0x1E00, 0x1F00)):
        char = chr(code)
        bare = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)).lower()
        if len(bare) == 1 and bare.isascii() and bare.isalpha() and bare != char:
            out[char] = bare
    return out


# What folding does to each character, and nothing else: one table for Python's fold() and the database's
# urbasig_fold() (migration 0018 writes its translate() and replace() calls from it), so both sides agree on
# every text, whatever the Unicode version or the database's locale. A character not listed stays as it is.
FOLD_TABLE: dict[str, str] = {
    **{chr(c): chr(c + 32) for c in range(ord("A"), ord("Z") + 1)},  # ASCII only: lower() depends on the locale
    **_latin_letters(),
    # letters that are no letter plus accent: spelt out (« Straße » is « strasse », « l'Œuvre » « l oeuvre »)
    "ß": "ss", "ẞ": "ss", "Œ": "oe", "œ": "oe", "Æ": "ae", "æ": "ae", "Ø": "o", "ø": "o", "Đ": "d", "đ": "d",
    "Ð": "d", "ð": "d", "Þ": "th", "þ": "th", "Ł": "l", "ł": "l", "ı": "i", "Ħ": "h", "ħ": "h",
    "ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st",
    # full-width Latin letters and digits, Arabic-Indic and Persian digits → ASCII
    **{chr(0xFF21 + i): chr(ord("a") + i) for i in range(26)}, **{chr(0xFF41 + i): chr(ord("a") + i) for i in range(26)},
    **{chr(0xFF10 + i): str(i) for i in range(10)}, **{chr(0x0660 + i): str(i) for i in range(10)},
    **{chr(0x06F0 + i): str(i) for i in range(10)},
    # Arabic: the hamza's seats and the alef forms as people type them without (« أحمد » is « احمد »), alef
    # maqsura as ya, ta marbuta as ha; short vowels, shadda, sukun, superscript alef and tatweel dropped
    "أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ؤ": "و", "ئ": "ي", "ى": "ي", "ة": "ه",
    **{chr(c): "" for c in (*range(0x064B, 0x0653), 0x0670, 0x0640)},
    # separators and spaces (apostrophes, quotes, NBSP, tabs…) → one space
    **{c: " " for c in "-_'.,;:/\\()\"«»°º’‘`ʼ′″“”،؛\t\n\r\x0b\x0c\u00a0\u202f\u2009\u2007\u200a\u3000"},
}
_FOLD = str.maketrans(FOLD_TABLE)


def fold(text: str) -> str:
    """Fold a text for comparison: FOLD_TABLE applied, words separated by one space.

    Exactly what the database's `urbasig_fold()` (migration 0018, written from FOLD_TABLE) does, so a folded
    query meets the folded index: « Aïn-Chock » → « ain chock », « 12, Rue Ibn Sina » → « 12 rue ibn sina »,
    « Straße » → « strasse », « أحمد » → « احمد ».
    """
    return " ".join(w for w in text.translate(_FOLD).split(" ") if w)


@dataclass(frozen=True)
class Understood:
    """What a search text was read as: its kind and values (see the module's docstring).

    - titre: `ref` (normalised, e.g. "TF 56883/C") when complete, else `prefixes` (e.g. ("TF 568",));
    - lambert: `x`, `y` (EPSG:26191 metres), `alternative` = (x, y) swapped when it is plausible too;
    - lonlat: `lon`, `lat` (WGS 84 degrees), `assumed_west` when a longitude was given without sign or W;
    - adresse: `number` (str or None, e.g. "12", "12 bis"), `street` (folded words, without the number), `whole`
      (the folded text with the number, in case it belongs to the street's name: « rue 136 »);
    - commune: `words` (folded);
    - inconnu: nothing.
    """

    kind: str
    text: str
    values: dict = field(default_factory=dict)


# ------------------------------------------------------------------------------------------- numbers
_NUMBER = r"[+-]?\d+(?:[.,]\d+)?"


def _to_float(token: str) -> float:
    return float(token.replace(",", "."))


def _number_pair(text: str) -> tuple[float, float] | None:
    """Two numbers separated by spaces, a comma + space, or a semicolon ("1,5 2,5" has decimal commas)."""
    body = text.strip()
    if ";" in body:
        parts = [p.strip() for p in body.split(";")]
        if len(parts) == 2 and all(re.fullmatch(_NUMBER, p) for p in parts):
            return _to_float(parts[0]), _to_float(parts[1])
        return None
    match = re.fullmatch(rf"({_NUMBER})\s*(?:,\s+|\s+|,)\s*({_NUMBER})", body)
    if match:
        return _to_float(match[1]), _to_float(match[2])
    # "296512,331245": one comma between two long integers is a separator, not a decimal comma
    match = re.fullmatch(r"([+-]?\d{4,})\s*,\s*([+-]?\d{4,})", body)
    if match:
        return float(match[1]), float(match[2])
    return None


def _in(value: float, bounds: tuple[float, float]) -> bool:
    return bounds[0] <= value <= bounds[1]


def _lambert(a: float, b: float, labelled: bool) -> Understood | None:
    """x, y (or y, x when only that order is plausible) in EPSG:26191's domain."""
    straight = _in(a, LAMBERT_X) and _in(b, LAMBERT_Y)
    swapped = _in(b, LAMBERT_X) and _in(a, LAMBERT_Y)
    if labelled:
        return Understood("lambert", "", {"x": a, "y": b, "alternative": None}) if straight else None
    if straight:
        return Understood("lambert", "", {"x": a, "y": b, "alternative": (b, a) if swapped else None})
    if swapped:
        return Understood("lambert", "", {"x": b, "y": a, "alternative": None, "swapped": True})
    return None


def _lonlat(a: float, b: float) -> Understood | None:
    """Longitude and latitude in either order: the longitude is the one that is west (negative)."""
    for lon, lat in ((a, b), (b, a)):
        if _in(lon, LON_RANGE) and _in(lat, LAT_RANGE):
            return Understood("lonlat", "", {"lon": lon, "lat": lat, "assumed_west": False})
    for lon, lat in ((a, b), (b, a)):  # "33.47 7.70": a longitude without its sign is west in Morocco
        if _in(-lon, LON_RANGE) and _in(lat, LAT_RANGE):
            return Understood("lonlat", "", {"lon": -lon, "lat": lat, "assumed_west": True})
    return None


_LABELLED = re.compile(rf"(?P<k1>[XY])\s*[=:]?\s*(?P<v1>{_NUMBER})\s*[,;]?\s*(?P<k2>[XY])\s*[=:]?\s*(?P<v2>{_NUMBER})",
                       re.IGNORECASE)


def _coordinates(text: str) -> Understood | None:
    """Lambert metres (labelled X=… Y=… or not) or decimal degrees."""
    labelled = _LABELLED.fullmatch(text.strip())
    if labelled:
        if labelled["k1"].upper() == labelled["k2"].upper():
            return None
        values = {labelled["k1"].upper(): _to_float(labelled["v1"]), labelled["k2"].upper(): _to_float(labelled["v2"])}
        return _lambert(values["X"], values["Y"], labelled=True)
    pair = _number_pair(text)
    if pair is None:
        return None
    a, b = pair
    if abs(a) <= 180 and abs(b) <= 180:
        return _lonlat(a, b)
    if abs(a) >= 1000 and abs(b) >= 1000:
        return _lambert(a, b, labelled=False)
    return None


# ------------------------------------------------------------------------------- degrees, minutes, seconds
_DMS_MARKS = str.maketrans({"°": " ° ", "º": " ° ", "′": " ' ", "’": " ' ", "'": " ' ", "″": ' " ', "”": ' " ',
                            '"': ' " '})
_HEMISPHERES = {"N": 1, "S": -1, "E": 1, "W": -1, "O": -1}


def _dms_groups(text: str) -> list[tuple[list[str], str | None]] | None:
    """The text cut into two coordinates: (numbers with their marks, hemisphere letter or None)."""
    spaced = re.sub(r"(\d),(\d)", r"\1.\2", text.replace("''", '"').translate(_DMS_MARKS))
    spaced = re.sub(r"(?<=\d)(?=[NSEWO]\b)", " ", spaced, flags=re.IGNORECASE)  # "33.47208N 7.70408W"
    tokens = spaced.upper().replace(",", " , ").replace(";", " , ").split()
    if not all(t in _HEMISPHERES or t in ("°", "'", '"', ",") or re.fullmatch(r"[+-]?\d+(?:\.\d+)?", t)
               for t in tokens):
        return None
    letters = [i for i, t in enumerate(tokens) if t in _HEMISPHERES]
    if letters:
        if len(letters) != 2:
            return None
        leading = letters[0] == 0
        cut = letters[1] if leading else letters[0] + 1
        parts = [tokens[:cut], tokens[cut:]]
        groups: list[tuple[list[str], str | None]] = []
        for part in parts:
            letter = part[0] if leading else part[-1]
            body = [t for t in (part[1:] if leading else part[:-1]) if t != ","]
            if not body or letter not in _HEMISPHERES:
                return None
            groups.append((body, letter))
        return groups
    if "," in tokens:
        cut = tokens.index(",")
        return [(tokens[:cut], None), ([t for t in tokens[cut + 1:] if t != ","], None)]
    starts = [i - 1 for i, t in enumerate(tokens) if t == "°" and i > 0]
    if len(starts) != 2:
        return None
    return [(tokens[: starts[1]], None), (tokens[starts[1]:], None)]


def _dms_value(tokens: list[str]) -> float | None:
    """Degrees, minutes and seconds (the marks, when given, say which is which) → decimal degrees."""
    numbers: list[float] = []
    units: list[str | None] = []
    for token in tokens:
        if token in ("°", "'", '"'):
            if not numbers or units[-1] is not None:
                return None
            units[-1] = token
        else:
            numbers.append(float(token))
            units.append(None)
    if not 1 <= len(numbers) <= 3:
        return None
    order = ["°", "'", '"']
    for i, unit in enumerate(units):
        if unit is not None and unit != order[i]:
            return None
    if any(n >= 60 for n in numbers[1:]) or any(n != int(n) for n in numbers[:-1]):
        return None
    scale = (1.0, 60.0, 3600.0)
    return sum(n / s for n, s in zip(numbers, scale, strict=False))


def _dms(text: str) -> Understood | None:
    """Degrees-minutes-seconds (or degrees with a hemisphere): two coordinates, N/S and E/W/O when given."""
    if not re.search(r"[°º′″'\"]|\d\s*[NSEWO]\b|\b[NSEWO]\s*\d", text, re.IGNORECASE):
        return None
    groups = _dms_groups(text)
    if groups is None:
        return None
    values = []
    for tokens, letter in groups:
        sign = -1.0 if tokens and tokens[0].startswith("-") else 1.0
        value = _dms_value([t.lstrip("+-") for t in tokens])
        if value is None:
            return None
        values.append((sign * value * _HEMISPHERES.get(letter or "", 1), letter))
    (a, la), (b, lb) = values
    if la in ("E", "W", "O") or lb in ("N", "S"):  # lettered longitude first
        a, b, la, lb = b, a, lb, la
    if (la and la not in ("N", "S")) or (lb and lb not in ("E", "W", "O")):
        return None
    found = _lonlat(b, a) if la or lb else _lonlat(a, b)
    return Understood("lonlat", "", {**found.values, "dms": True}) if found else None


# ------------------------------------------------------------------------------------------- titles
_PARTIAL_REF = re.compile(
    r"(?P<prefix>T\s*\.?\s*F\s*\.?|TITRE(?:\s+FONCIER)?|T\.?|REQUISITION|REQ\.?|R\.?)?\s*[.\-]?\s*"
    r"(?:(?:N\s*°|NO\.?|N\.)\s*)?(?P<number>[1-9][0-9]{0,7})?(?P<sep>\s*[/\-]\s*|\s+)?(?P<suffix>[A-Z0-9]{1,4})?")


def _title(text: str) -> Understood | None:
    """A complete title (gis/landref.py), or the start of one while typing ("TF 568", "tf56883-", "R 12")."""
    try:
        ref = parse_land_ref(text)
    except LandRefError:
        ref = None
    if ref is not None and ref.kind != "NI":
        prefixes: tuple[str, ...] = (ref.normalized or "",)
        if re.match(r"\s*(?:n\s*°\s*)?\d", text, re.IGNORECASE):  # no prefix written: a réquisition too
            prefixes = (*prefixes, f"R {ref.normalized[3:]}" if ref.normalized else "")
        return Understood("titre", "", {"ref": ref.normalized, "prefixes": prefixes})
    folded = _fold_ref(text)
    match = _PARTIAL_REF.fullmatch(folded)
    if match is None or not match["number"] or (match["suffix"] and not match["sep"]):
        return None
    if match["suffix"] and not match["sep"].strip() and match["suffix"].isdigit():
        return None  # "TF 568 12": two numbers
    prefix = (match["prefix"] or "").replace(".", "").replace(" ", "")
    kinds = ("R",) if prefix.startswith("R") else ("TF",) if prefix else ("TF", "R")
    tail = f"/{match['suffix']}" if match["suffix"] else ("/" if match["sep"] and match["sep"].strip() else "")
    return Understood("titre", "", {"ref": None, "prefixes": tuple(f"{k} {match['number']}{tail}" for k in kinds)})


# ------------------------------------------------------------------------------------------- addresses
_HOUSE = r"\d{1,4}(?:\s?(?:bis|ter|[a-d]))?"


def _address(folded: str) -> Understood | None:
    """A house number and a street (either order), or a street alone when it has a street word."""
    match = re.fullmatch(rf"(?:n\s?)?(?P<num>{_HOUSE})\s+(?P<street>[a-z].*)", folded) or re.fullmatch(
        rf"(?P<street>[a-z].*?)\s+(?:n\s?)?(?P<num>{_HOUSE})", folded)
    number = None
    street = folded
    # the number is the house's when the rest names a street ("12 rue ibn sina", "rue 136 12"), not when the
    # rest is a bare street word ("rue 136" is the street Rue 136)
    if match and any(w not in STREET_WORDS for w in match["street"].split()) and (
            re.search(r"[a-z]{2}", match["street"]) or match["street"].split()[0] in STREET_WORDS):
        number, street = " ".join(match["num"].split()), match["street"]
    words = street.split()
    if not words or not re.search(r"[a-z]", street):
        return None
    has_street_word = words[0] in STREET_WORDS or any(w in STREET_WORDS for w in words[:2])
    if number is None and not has_street_word:
        return None
    if number is not None and not has_street_word and len("".join(words)) < 3:
        return None
    canonical = " ".join(STREET_CANONICAL.get(w, w) for w in words)
    whole = " ".join(STREET_CANONICAL.get(w, w) for w in folded.split())
    return Understood("adresse", "", {"number": number, "street": canonical, "whole": whole})


# ------------------------------------------------------------------------------------------- the reader
def understand(text: str) -> Understood:
    """Read a search text: the first reading that fits (see the module's docstring), else `inconnu`."""
    raw = " ".join(str(text).split())[:MAX_CHARS]
    if not raw:
        return Understood("inconnu", raw)
    found = _dms(raw) or _coordinates(raw)
    if found is None:
        folded = fold(raw)
        # "R 136/C" is a réquisition, "r. 136 12" house 12 of the street « Rue 136 »: the likelier reading first
        readers = (lambda: _title(raw), lambda: _address(folded))
        found = None
        for reader in readers if _looks_like_title(raw) else readers[::-1]:
            found = found or reader()
        if found is None and re.search(r"[^\W\d_]{2}", folded):
            found = Understood("commune", "", {"words": folded})
    if found is None:
        return Understood("inconnu", raw)
    return Understood(found.kind, raw, found.values)


def _looks_like_title(text: str) -> bool:
    """Whether the text starts as a title does ("TF", "T.", "R 12", "titre", "réq"): then it is not an address."""
    return bool(re.match(r"\s*(?:t\s*\.?\s*f\b|t\s*\.|t\d|tf\d|titre\b|r\s*\.?\s*\d|r[ée]q|requisition)",
                         text, re.IGNORECASE))
