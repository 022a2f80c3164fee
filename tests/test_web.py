"""The running server: /health against the real database, the home page, errors as JSON."""

from app import create_app
from tests.helpers import app_settings


def _app(url):
    return create_app(app_settings(url, pool_min=1, pool_max=2))


def test_health_reports_postgis(db_url):
    client = _app(db_url).test_client()
    response = client.get("/health")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok" and body["postgis"].startswith("3.")


def test_health_is_503_when_the_database_is_down():
    client = _app("postgresql://nobody:x@127.0.0.1:1/none").test_client()
    response = client.get("/health")
    assert response.status_code == 503
    assert response.get_json()["database"] == "injoignable"


def test_home_page_is_french(db_url):
    response = _app(db_url).test_client().get("/")
    assert response.status_code == 200
    assert 'lang="fr"' in response.get_data(as_text=True)


def test_unknown_path_is_404(db_url):
    assert _app(db_url).test_client().get("/nulle-part").status_code == 404


def test_health_details_only_for_loopback_and_staff(db_url, conn):
    from layers.accounts import create_account

    client = _app(db_url).test_client()
    local = client.get("/health?details")
    assert "pid" in local.get_json() and "pool" in local.get_json()  # the machine itself (the test client: 127.0.0.1)
    remote = {"REMOTE_ADDR": "203.0.113.7", "HTTP_ORIGIN": "http://127.0.0.1:5000"}
    plain = client.get("/health?details", environ_base=remote)
    assert plain.status_code == 200 and plain.get_json()["status"] == "ok"
    assert "pid" not in plain.get_json() and "pool" not in plain.get_json()
    create_account(conn, "instructeur@auc.ma", "Instructeur", "un mot de passe long", role="instructor", verified=True)
    conn.commit()
    signed_in = client.post("/notes/session", json={"email": "instructeur@auc.ma", "password": "un mot de passe long"},
                            environ_base=remote)
    assert signed_in.status_code == 200, signed_in.get_json()
    assert "pool" in client.get("/health?details", environ_base=remote).get_json()  # staff
