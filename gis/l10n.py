"""Numbers, areas, lengths and dates as a person reads them, in French or Arabic (pure: no clock, no locale).

French: « 1 234,56 m² », « 1er décembre 2026 », « 1er décembre 2026 à 14 h 05 ». Arabic as written in
Morocco (CLDR ar-MA): Western digits, decimal comma, dot between thousands, Moroccan month names
(« 1 دجنبر 2026 »). Separators are no-break spaces (U+00A0), which every PDF font has.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

LANGS = ("fr", "ar")
LOCAL_ZONE = "Africa/Casablanca"  # the agency's clock: timestamps are stored in UTC, read in this zone
NBSP = "\u00a0"
_SEPARATORS = {"fr": (",", NBSP), "ar": (",", ".")}
_MONTHS = {
    "fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
           "novembre", "décembre"),
    "ar": ("يناير", "فبراير", "مارس", "أبريل", "ماي", "يونيو", "يوليوز", "غشت", "شتنبر", "أكتوبر", "نونبر", "دجنبر"),
}


RLM, LRM = "\u200f", "\u200e"


def embed(value: object, lang: str) -> str:
    """A value (a title, a code, a quantity) ready to sit inside a sentence of `lang`.

    In Arabic it is framed by right-to-left marks, so the brackets, colons and commas around a French name or
    a number keep to the Arabic sentence's order (« المنطقة D (Villas): 800 m² » stays in that order) instead of
    joining the Latin run; a name with no Arabic letter is also held left to right inside (left-to-right marks:
    « Décret n° 2-06-100 (fictif) » keeps its closing bracket), while a quantity (« 673,10 m² », « 40 % ») reads
    as Arabic text writes it, the number first from the right, then its unit. The marks are invisible; notes/arabic.py drops
    them once a PDF line is ordered, browsers apply them as they are.
    """
    text = str(value)
    if lang != "ar" or not text:
        return text
    if text[0].isdigit() or any("\u0600" <= ch <= "\u06ff" for ch in text):
        return f"{RLM}{text}{RLM}"
    return f"{RLM}{LRM}{text}{LRM}{RLM}"


def check_lang(lang: str) -> str:
    """`lang` when it is one of LANGS; else ValueError (callers choose the language, never guess here)."""
    if lang not in LANGS:
        raise ValueError(f"langue inconnue : {lang!r} (langues : {', '.join(LANGS)})")
    return lang


def number(value: float | int, lang: str = "fr", decimals: int = 2, trim: bool = False) -> str:
    """A number with the language's separators: 1234.5 → « 1 234,50 » (fr), « 1.234,50 » (ar).

    `trim` drops an all-zero decimal part (« 2 000 » rather than « 2 000,00 », « 11,50 » kept): for prose,
    where a round value reads better whole; tables keep their fixed decimals.
    """
    decimal_sep, group_sep = _SEPARATORS[check_lang(lang)]
    text = f"{value:,.{decimals}f}"  # 1,234.50
    if trim and decimals and set(text[-decimals:]) == {"0"}:
        text = text[:-decimals - 1]
    if text in ("-0", "-0." + "0" * decimals):
        text = text[1:]
    return text.replace(",", "\x00").replace(".", decimal_sep).replace("\x00", group_sep)


def area(m2: float, lang: str = "fr", decimals: int = 2, trim: bool = False) -> str:
    """An area in square metres: « 1 234,56 m² » (the unit is the same in Arabic plans: م² is rarer)."""
    return f"{number(m2, lang, decimals, trim)}{NBSP}m²"


def length(m: float, lang: str = "fr", decimals: int = 2, trim: bool = False) -> str:
    """A length in metres: « 12,50 m »."""
    return f"{number(m, lang, decimals, trim)}{NBSP}m"


def percent(value: float, lang: str = "fr", decimals: int = 1, trim: bool = False) -> str:
    """A share in per cent: « 12,5 % »."""
    return f"{number(value, lang, decimals, trim)}{NBSP}%"


def long_date(day: date, lang: str = "fr") -> str:
    """« 1er décembre 2026 » (fr), « 1 دجنبر 2026 » (ar)."""
    month = _MONTHS[check_lang(lang)][day.month - 1]
    first = "1er" if lang == "fr" and day.day == 1 else str(day.day)
    return f"{first} {month} {day.year}"


def local(moment: datetime, zone: str = LOCAL_ZONE) -> datetime:
    """The moment on the agency's clock; a naive moment is taken as UTC (how the database stores them)."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(ZoneInfo(zone))


def long_datetime(moment: datetime, lang: str = "fr", zone: str | None = LOCAL_ZONE) -> str:
    """« 1er décembre 2026 à 14 h 05 » (fr), « 1 دجنبر 2026 على الساعة 14:05 » (ar), on the agency's clock.

    The moment is converted to `zone` (Africa/Casablanca; a naive moment is UTC); `zone=None` keeps it as it is.
    """
    if zone is not None:
        moment = local(moment, zone)
    day = long_date(moment.date(), lang)
    if lang == "fr":
        return f"{day} à {moment.hour}{NBSP}h{NBSP}{moment.minute:02d}"
    return f"{day} على الساعة {moment.hour:02d}:{moment.minute:02d}"
