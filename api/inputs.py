"""Malformed input stopped at the door: one guard before every request, one reader of JSON bodies and fields.

PostgreSQL refuses a NUL character in text and psycopg refuses a lone surrogate, Python's json recurses once per
nesting level, and a view that does `body.get("email", "").strip()` breaks on a number: each was a 500. Here:

- `check_request` (a `before_request` guard) refuses a NUL character in the path, a query parameter's name or
  value, a form field, an upload's field or file name, or a header, and reads a JSON body once (below);
- `json_body()` parses the body with the one strict JSON reader (gis/jsontext.py: UTF-8, bounded in depth by
  URBASIG_MAX_JSON_DEPTH, no NUL character or lone surrogate in any string or key); `field()` reads one member
  with the type the view expects.

Every refusal is an InputError (400) whose French message says which field is wrong and what is expected.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, TypeVar

from flask import Flask, current_app, g, request

from gis.errors import InputError
from gis.jsontext import DEFAULT_MAX_DEPTH, clean_text, parse_json

T = TypeVar("T")
# the French name of each JSON type, for "… attendu" and "reçu …" (bool first: a bool is also an int)
TYPE_LABELS: dict[type, str] = {type(None): "null", bool: "un booléen (true / false)", int: "un nombre entier",
                                float: "un nombre", str: "du texte", list: "une liste", dict: "un objet"}
_MISSING = object()


def kind_of(value: object) -> str:
    """The JSON type of a value, in French, for an error message."""
    kind = next((k for k in TYPE_LABELS if isinstance(value, k)), list if isinstance(value, tuple) else None)
    return TYPE_LABELS[kind] if kind else type(value).__name__


def max_json_depth() -> int:
    """The depth limit of JSON bodies (URBASIG_MAX_JSON_DEPTH)."""
    settings = current_app.config.get("URBASIG")
    return getattr(settings, "max_json_depth", DEFAULT_MAX_DEPTH) or DEFAULT_MAX_DEPTH


def json_body() -> Any:
    """This request's JSON body, read once (Content-Type: application/json)."""
    if "json_body" not in g:
        if not request.is_json:
            raise InputError("corps JSON attendu (Content-Type: application/json)")
        data = request.get_data(cache=True)
        if not data.strip():
            raise InputError("corps JSON attendu : le corps est vide")
        g.json_body = parse_json(data, max_json_depth())
    return g.json_body


def json_object() -> dict:
    """This request's JSON body, which must be an object `{…}`."""
    body = json_body()
    if not isinstance(body, dict):
        raise InputError(f"corps JSON : un objet {{…}} est attendu (reçu {kind_of(body)})")
    return body


def field(body: dict, name: str, kind: type[T] | tuple[type, ...], *, required: bool = False, default: Any = None,
          max_len: int | None = None, where: str = "") -> Any:
    """Member `name` of a JSON object, of type `kind` (str, bool, int, float, list, dict); null is absent.

    `float` accepts any finite number; `int` a whole number; `bool` is never taken for a number.
    """
    label = f"« {where}{name} »"
    value = body.get(name, _MISSING) if isinstance(body, dict) else _MISSING
    if value is _MISSING or value is None:
        if required:
            raise InputError(f"{label} est obligatoire ({_expected(kind)})")
        return default
    if not _is(value, kind):
        raise InputError(f"{label} : {_expected(kind)} attendu, reçu {kind_of(value)}")
    if max_len is not None and isinstance(value, str | list | dict) and len(value) > max_len:
        unit = "caractères" if isinstance(value, str) else "éléments"
        raise InputError(f"{label} : {max_len} {unit} au plus (reçu {len(value)})")
    return float(value) if kind is float else value


def _is(value: object, kind: type | tuple[type, ...]) -> bool:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    for k in kinds:
        if k is bool and isinstance(value, bool):
            return True
        if k in (int, float) and isinstance(value, bool):
            continue
        if k is float and isinstance(value, int | float) and math.isfinite(value):
            return True
        if k is int and (isinstance(value, int) or (isinstance(value, float) and value.is_integer())):
            return True
        if k not in (int, float, bool) and isinstance(value, k):
            return True
    return False


def _expected(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " ou ".join(TYPE_LABELS.get(k, k.__name__) for k in kinds)


def _no_nul(values: Iterable[tuple[str, str]], what: str) -> None:
    for name, value in values:
        clean_text(name, f"{what} (nom)")
        clean_text(value, f"{what} « {name} »")


def check_request() -> None:
    """Refuse, before any view runs, a NUL character anywhere the app reads text, and a malformed JSON body."""
    clean_text(request.path, "adresse")
    _no_nul(request.args.items(multi=True), "paramètre")
    _no_nul(((k, v) for k, v in request.headers.items()), "en-tête")
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        _no_nul(request.form.items(multi=True), "champ")
        for name, upload in request.files.items(multi=True):
            clean_text(name, "fichier (nom du champ)")
            clean_text(upload.filename or "", f"fichier « {name} » (nom)")
    elif request.is_json and request.get_data(cache=True).strip():
        json_body()


def register_inputs(app: Flask) -> None:
    """Install the guard in front of every view."""
    app.before_request(check_request)
