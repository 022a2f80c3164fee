"""Each role reaches only its own pages of the spaces, and every form there needs its CSRF token (issue 14).

The matrix is read from the application's own URL map, so a page added later is covered without editing this
file: every GET page under the spaces' prefixes is either marked public (`public_page`) or guarded by
`page_for(roles)`; anonymous visitors are sent to the sign-in page, other roles get a 403 page, its own roles
do not; every POST there without the session's token is a 403 and writes nothing.
"""

from __future__ import annotations

import re

import pytest

from api.spaces import HOME, PREFIXES, SIGN_IN, in_spaces
from app import create_app
from layers.accounts import ROLES, create_account
from tests.helpers import app_settings

PASSWORD = "mot de passe solide"
ORIGIN = "http://127.0.0.1:5000"  # the default public URL: the Origin check of api/security.py


@pytest.fixture(scope="module")
def spaces_app(server_url, template_name, tmp_path_factory):
    import os

    import psycopg

    from layers.db import drop_database, ensure_database, with_dbname

    name = f"urbasig_spaces_{os.getpid()}"
    ensure_database(server_url, name, template=template_name)
    url = with_dbname(server_url, name)
    with psycopg.connect(url) as conn:
        for role in ROLES:
            create_account(conn, f"{role}@auc.ma", role.title(), PASSWORD, role=role, verified=True,
                           organisation="Commune d'Anfa" if role == "partner" else None)
        conn.commit()
    app = create_app(app_settings(url, var_dir=tmp_path_factory.mktemp("var")))
    yield app, url
    app.extensions["urbasig.pool"].close()
    drop_database(server_url, name)


def _pages(app):
    """(rule, view function, methods) of every route of the spaces."""
    for rule in app.url_map.iter_rules():
        if in_spaces(rule.rule):
            yield rule, app.view_functions[rule.endpoint]


def _path(rule) -> str:
    """A concrete path for a rule: any value for its variables (the guard answers before the lookup)."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", "NRU-2026-999999", rule.rule)


def _client(app, role):
    client = app.test_client()
    if role:
        r = client.post("/notes/session", json={"email": f"{role}@auc.ma", "password": PASSWORD},
                        headers={"Origin": ORIGIN})
        assert r.status_code == 200, r.text
    return client


def test_every_page_of_the_spaces_is_public_or_guarded(spaces_app):
    app, _ = spaces_app
    unguarded = [rule.rule for rule, view in _pages(app)
                 if not getattr(view, "public_page", False) and not getattr(view, "page_roles", None)]
    assert not unguarded, f"pages des espaces sans page_for ni public_page : {unguarded}"
    assert {rule.rule for rule, _ in _pages(app)} >= {p + "/" for p in PREFIXES if p != "/espace"} | {"/espace/"}


@pytest.mark.parametrize("role", [None, *ROLES])
def test_each_role_reaches_only_its_own_pages(spaces_app, role):
    app, _ = spaces_app
    client = _client(app, role)
    checked = 0
    for rule, view in _pages(app):
        roles = getattr(view, "page_roles", None)
        if not roles or "GET" not in rule.methods:
            continue
        r = client.get(_path(rule), headers={"Accept": "text/html"})
        checked += 1
        if role is None:
            assert r.status_code == 303 and r.headers["Location"].startswith(SIGN_IN + "?suivant="), rule.rule
        elif role in roles:
            assert r.status_code not in (303, 401, 403), (role, rule.rule, r.status_code)
        else:
            assert r.status_code == 403, (role, rule.rule, r.status_code)
            assert "text/html" in r.content_type and HOME[role] in r.text  # a page naming the person's own space
    assert checked >= 5


@pytest.mark.parametrize("role", [None, *ROLES])
def test_every_form_of_the_spaces_needs_the_session_token(spaces_app, role):
    app, url = spaces_app
    import psycopg

    with psycopg.connect(url) as conn:
        before = conn.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    client = _client(app, role)
    posts = [rule for rule, _ in _pages(app) if "POST" in rule.methods]
    for rule in posts:
        for token in (None, "jeton-invente-" + "x" * 40):
            data = {"csrf": token} if token else {}
            r = client.post(_path(rule), data=data, headers={"Origin": ORIGIN, "Accept": "text/html"})
            assert r.status_code == 403, (role, rule.rule, token, r.status_code)
            assert "jeton de sécurité" in r.text
    with psycopg.connect(url) as conn:  # nothing written by the refused forms (the sign-in's own lines aside)
        after = conn.execute("SELECT count(*) FROM audit_log WHERE action <> 'session.ouverte'").fetchone()[0]
        assert after <= before


def test_the_spaces_pages_are_never_cached_and_a_new_sign_in_ends_the_old_session(spaces_app):
    app, _ = spaces_app
    client = _client(app, "applicant")
    r = client.get("/espace/", headers={"Accept": "text/html"})
    assert r.status_code == 200 and r.headers["Cache-Control"] == "private, no-store"
    old_cookie = client.get_cookie("session").value
    r = client.post("/notes/session", json={"email": "instructor@auc.ma", "password": PASSWORD},
                    headers={"Origin": ORIGIN})
    assert r.status_code == 200
    replay = app.test_client()
    replay.set_cookie("session", old_cookie)
    r = replay.get("/espace/", headers={"Accept": "text/html"})
    assert r.status_code == 303  # the applicant's session ended when someone signed in over it
