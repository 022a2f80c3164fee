"""Strict JSON text: the one reader of request bodies, CQL2-JSON filters and page cursors.

Python's json takes NaN and Infinity, recurses once per nesting level, and turns a `\\ud800` escape into a lone
surrogate that neither UTF-8 nor psycopg can encode; PostgreSQL refuses a NUL character in text. Each was a 500.
`parse_json` refuses all of them with an InputError (or the subclass the caller names) whose French message
says where: the depth is counted before parsing and checked after it without recursion, and every string and
key is checked. Pure: no I/O, no globals.
"""

from __future__ import annotations

import json
import math
import re
from itertools import accumulate
from typing import Any

from gis.errors import InputError

DEFAULT_MAX_DEPTH = 64
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKETS = re.compile(r"[\[\]{}]")


def clean_text(value: str, where: str, error: type[InputError] = InputError) -> str:
    """The text itself, or `error` when it holds a NUL character or a lone surrogate (not UTF-8)."""
    if "\x00" in value:
        raise error(f"{where} : caractère nul (\\u0000) interdit")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise error(f"{where} : caractère invalide (caractère Unicode isolé, non codable en UTF-8)") from None
    return value


def check_tree(value: object, max_depth: int, where: str = "corps JSON", error: type[InputError] = InputError) -> None:
    """Walk a parsed JSON value without recursion: depth within `max_depth`, numbers finite, keys and texts clean."""
    stack: list[tuple[object, int, str]] = [(value, 1, where)]
    while stack:
        node, depth, path = stack.pop()
        if isinstance(node, str):
            clean_text(node, path, error)
        elif isinstance(node, float) and not math.isfinite(node):
            raise error(f"{path} : nombre non fini (NaN, Infinity) refusé")
        elif isinstance(node, dict | list):
            if depth > max_depth:
                raise error(f"{where} trop imbriqué : {max_depth} niveaux au plus")
            for key, child in node.items() if isinstance(node, dict) else enumerate(node):
                if isinstance(key, str):
                    clean_text(key, f"{path} (nom de champ)", error)
                stack.append((child, depth + 1, f"{path}.{key}" if isinstance(node, dict) else f"{path}[{key}]"))


def parse_json(data: bytes | str, max_depth: int = DEFAULT_MAX_DEPTH, where: str = "corps JSON",
               error: type[InputError] = InputError) -> Any:
    """Parse JSON text strictly: UTF-8, no NaN or Infinity, at most `max_depth` deep, no NUL or lone surrogate."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise error(f"{where} : UTF-8 invalide (octet {exc.start + 1})") from None
    if _nesting(data, max_depth) > max_depth:
        raise error(f"{where} trop imbriqué : {max_depth} niveaux au plus")

    def no_constant(name: str) -> None:
        raise error(f"{where} : « {name} » n'est pas un nombre JSON")

    try:
        value = json.loads(data, parse_constant=no_constant)
    except json.JSONDecodeError as exc:
        raise error(f"{where} illisible : JSON invalide ligne {exc.lineno}, colonne {exc.colno}") from None
    except ValueError:  # an integer of more than 4300 digits (sys.get_int_max_str_digits)
        raise error(f"{where} illisible : nombre trop long") from None
    except RecursionError:  # _nesting has counted the levels already: a safety net
        raise error(f"{where} trop imbriqué : {max_depth} niveaux au plus") from None
    check_tree(value, max_depth, where, error)
    return value


def _nesting(text: str, max_depth: int) -> int:
    """The nesting depth, counted without parsing (json.loads recurses on each level): strings left out."""
    if text.count("[") + text.count("{") <= max_depth:
        return 0  # cannot be deeper than allowed: check_tree measures it after parsing
    brackets = _BRACKETS.findall(_STRINGS.sub("", text))
    return max(accumulate(1 if b in "[{" else -1 for b in brackets), default=0)
