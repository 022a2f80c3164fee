"""The one reader of a day typed in a request (`date=`): exactly AAAA-MM-JJ, nothing else ISO 8601 allows.

`date.fromisoformat` alone also takes « 2026-W01-1 » (a week date: 29 December 2025) and « 20260101 »; a person
who wrote either did not write the day the message asks for, so it is refused with that message.
"""

from __future__ import annotations

import re
from datetime import date

from gis.errors import InputError

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


def day_message(text: str, name: str = "date") -> str:
    """The French message for a day that is not AAAA-MM-JJ (what was received, cut short)."""
    return f"« {name} » : date AAAA-MM-JJ attendue, par exemple 2026-12-01 (reçu « {text[:40]} »)"


def read_day(text: str, name: str = "date") -> date:
    """The day `text` names when it is written AAAA-MM-JJ and exists; InputError (French message) otherwise."""
    if not isinstance(text, str) or not _DAY.fullmatch(text):
        raise InputError(day_message(str(text), name))
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(day_message(text, name)) from None
