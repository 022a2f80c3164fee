"""French and Arabic for every page a person reads: the language of a request and the message catalogue.

The language is `?lang=fr|ar` (remembered in the `lang` cookie on pages, not on /api/* nor on a response marked
`Cache-Control: public`), else the cookie, else the browser's
Accept-Language, else French. Messages live in api/messages/*.json, one file per area of the site (map,
panel, notes…), each key with its "fr" and "ar" text; a key defined twice, or missing a language, stops the
app at start-up (tests/unit/test_i18n.py). Templates call `t("key", name=value)`; numbers and dates go
through gis/l10n.py with `lang`.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from flask import Flask, Response, g, request

from gis import l10n

MESSAGES_DIR = Path(__file__).parent / "messages"
COOKIE = "lang"
DIRECTION = {"fr": "ltr", "ar": "rtl"}


@lru_cache(maxsize=1)
def catalogue() -> dict[str, dict[str, str]]:
    """Every message, by language then key, from api/messages/*.json (checked: each key once, in each language)."""
    merged: dict[str, dict[str, str]] = {lang: {} for lang in l10n.LANGS}
    owner: dict[str, str] = {}
    for path in sorted(MESSAGES_DIR.glob("*.json")):
        for key, texts in json.loads(path.read_text(encoding="utf-8")).items():
            if key in owner:
                raise ValueError(f"message « {key} » défini deux fois : {owner[key]} et {path.name}")
            missing = [lang for lang in l10n.LANGS if not isinstance(texts.get(lang), str) or not texts[lang]]
            if missing:
                raise ValueError(f"message « {key} » ({path.name}) sans texte en : {', '.join(missing)}")
            owner[key] = path.name
            for lang in l10n.LANGS:
                merged[lang][key] = texts[lang]
    return merged


def translate(key: str, lang: str, **values: object) -> str:
    """The message `key` in `lang`, with its {placeholders} filled; an unknown key is a programming error."""
    text = catalogue()[l10n.check_lang(lang)][key]
    return text.format(**values) if values else text


def current_lang() -> str:
    """This request's language: ?lang=, the cookie, Accept-Language, else French."""
    if "lang" not in g:
        asked = request.args.get("lang") or request.cookies.get(COOKIE)
        if asked in l10n.LANGS:
            g.lang = asked
        else:
            g.lang = request.accept_languages.best_match(l10n.LANGS, default="fr") or "fr"
    return g.lang


def t(key: str, **values: object) -> str:
    """The message `key` in this request's language (templates: {{ t("map.search") }})."""
    return translate(key, current_lang(), **values)


API_PREFIX = "/api/"


def _remember(response: Response) -> Response:
    """Keep the language asked by ?lang= on a page for the next pages (a cookie neither secret nor tracking).

    Not on /api/*: a script asking `?lang=ar` for one answer does not switch the person's pages to Arabic; and
    never on a response a shared cache may keep (`Cache-Control: public`), which would hand the cookie to others.
    """
    asked = request.args.get("lang")
    if request.path.startswith(API_PREFIX) or response.cache_control.public:
        return response
    if asked in l10n.LANGS and request.cookies.get(COOKIE) != asked:
        response.set_cookie(COOKIE, asked, max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
    return response


def register_i18n(app: Flask) -> None:
    """Give templates t(), lang, dir and the formats of gis/l10n.py in the request's language."""
    catalogue()  # at start-up: a broken catalogue stops the app here, not on a citizen's page

    @app.context_processor
    def _globals() -> dict[str, object]:
        lang = current_lang()
        return {"t": t, "lang": lang, "dir": DIRECTION[lang],
                "fmt_number": lambda v, d=2: l10n.number(v, lang, d), "fmt_area": lambda v, d=2: l10n.area(v, lang, d),
                "fmt_length": lambda v, d=2: l10n.length(v, lang, d),
                "fmt_percent": lambda v, d=1: l10n.percent(v, lang, d),
                "fmt_date": lambda v: l10n.long_date(v, lang), "fmt_datetime": lambda v: l10n.long_datetime(v, lang)}

    app.after_request(_remember)
