"""What the pages for people say around an error: its title, what happened, what to do, when to come back.

Pure wording over the catalogue (api/messages/pages.json): the boundary (api/errors.py) renders error.html with
`error_context`; `delay_text` turns a Retry-After in seconds into « 40 secondes », « une heure », « 3 دقائق ».
"""

from __future__ import annotations

import math

from api.i18n import catalogue, translate
from gis.errors import UrbasigError

UNITS = (("hour", 3600), ("minute", 60), ("second", 1))


def _plural(unit: str, n: int, lang: str) -> str:
    """`n` units with the language's plural form (Arabic: one, two, 3–10, 11 and more)."""
    form = "1" if n == 1 else "2" if n == 2 else "few" if n <= 10 else "many"
    return translate(f"pages.unit.{unit}.{form}", lang, n=n)


def delay_text(seconds: int, lang: str) -> str:
    """A wait as a person reads it, rounded up to the unit that fits: 40 → « 40 secondes », 3600 → « une heure »."""
    seconds = max(1, int(seconds))
    if seconds < 60:
        return _plural("second", seconds, lang)
    if seconds < 3600:
        return _plural("minute", math.ceil(seconds / 60), lang)
    return _plural("hour", math.ceil(seconds / 3600), lang)


def status_text(kind: str, status: int, lang: str) -> str:
    """The title (`kind` "title") or the explanation ("what") of an HTTP status, in `lang`."""
    key = f"pages.{kind}.{status}"
    return translate(key if key in catalogue()[lang] else f"pages.{kind}.other", lang)


def error_context(error: UrbasigError, lang: str) -> dict[str, object]:
    """What error.html shows: title, explanation, the hint for the error's code, the wait when there is one."""
    hint_key = f"pages.hint.{error.code}"
    wait = error.retry_after_s
    return {"title": status_text("title", error.status, lang), "what": status_text("what", error.status, lang),
            "hint": translate(hint_key, lang) if hint_key in catalogue()[lang] else None,
            "retry": translate("pages.retry", lang, delay=delay_text(wait, lang)) if wait else None}
