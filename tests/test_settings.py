"""Settings come from URBASIG_* variables, are validated, and never print a password."""

import pytest

from gis.errors import ConfigError
from settings import Settings, mask_password


def test_values_from_the_environment(tmp_path):
    s = Settings.from_env({"URBASIG_PORT": "8080", "URBASIG_POOL_MAX": "4",
                           "URBASIG_DATABASE_URL": "postgresql://u:secret@db/x"}, dotenv=tmp_path / "none")
    assert (s.port, s.pool_max, s.embedded) == (8080, 4, False)
    assert "secret" not in str(list(s.safe_repr().values()))  # the password is masked (keys may say "secret")


def test_dotenv_is_read_but_environment_wins(tmp_path):
    env = tmp_path / ".env"
    env.write_text("URBASIG_PORT=7000\nURBASIG_PG_PORT=6000\n")
    s = Settings.from_env({"URBASIG_PORT": "7100"}, dotenv=env)
    assert (s.port, s.pg_port) == (7100, 6000)


@pytest.mark.parametrize("env,message", [
    ({"URBASIG_PORT": "abc"}, "nombre"),
    ({"URBASIG_APPLY_PLANS_IN_INQUIRY": "peut-être"}, "true ou false"),
    ({"URBASIG_PORT": "70000"}, "port"),
    ({"URBASIG_DATABASE_URL": "mysql://x"}, "postgresql://"),
    ({"URBASIG_POOL_MIN": "5", "URBASIG_POOL_MAX": "2"}, "POOL"),
])
def test_bad_values_are_refused_with_a_reason(env, message, tmp_path):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env, dotenv=tmp_path / "none")


def test_mask_password():
    assert mask_password("postgresql://u:pw@h:5/d") == "postgresql://u:***@h:5/d"
    assert mask_password("postgresql://h/d") == "postgresql://h/d"


def test_payment_secret_is_never_shown(tmp_path):
    s = Settings.from_env({"URBASIG_PAYMENT_SECRET": "hmac-key-42"}, dotenv=tmp_path / "none")
    assert s.payment_secret == "hmac-key-42" and "hmac-key-42" not in str(s.safe_repr())


def test_the_app_database_url_is_read_validated_and_masked(tmp_path):
    s = Settings.from_env({"URBASIG_DATABASE_URL": "postgresql://owner:s3cr3t@db/x",
                           "URBASIG_APP_DATABASE_URL": "postgresql://urbasig_app:appp4ss@db/x"}, dotenv=tmp_path / "n")
    assert s.app_database_url == "postgresql://urbasig_app:appp4ss@db/x"
    assert "appp4ss" not in str(s.safe_repr()) and "s3cr3t" not in str(s.safe_repr())
    with pytest.raises(ConfigError, match="URBASIG_APP_DATABASE_URL"):
        Settings.from_env({"URBASIG_APP_DATABASE_URL": "mysql://x"}, dotenv=tmp_path / "n")


# ------------------------------------------------------------------ production refuses what cannot work
def _production(tmp_path, **changes):
    for name in ("key", "cert", "ca"):
        (tmp_path / f"{name}.pem").write_text("PEM")
    env = {"URBASIG_ENV": "production", "URBASIG_SECRET_KEY": "k" * 40, "URBASIG_PAYMENT_SECRET": "secret banque",
           "URBASIG_PAYMENT_GATEWAY_URL": "https://paiement.banque.example/pay", "URBASIG_SMTP_HOST": "smtp.auc.ma",
           "URBASIG_PUBLIC_URL": "https://urba.auc.ma", "URBASIG_SIGNING_KEY": str(tmp_path / "key.pem"),
           "URBASIG_SIGNING_CERT": str(tmp_path / "cert.pem"), "URBASIG_SIGNING_CA": str(tmp_path / "ca.pem"),
           "URBASIG_TSA_URL": "https://horodatage.example.ma/tsa"}
    env.update(changes)
    return Settings.from_env({k: v for k, v in env.items() if v is not None}, dotenv=tmp_path / "none")


PRODUCTION_NAMES = ("URBASIG_SECRET_KEY", "URBASIG_PAYMENT_SECRET", "URBASIG_PAYMENT_GATEWAY_URL", "URBASIG_SMTP_HOST",
                    "URBASIG_SIGNING_KEY", "URBASIG_PUBLIC_URL", "URBASIG_TSA_URL")


def test_production_with_nothing_configured_names_every_variable_at_once(tmp_path):
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({"URBASIG_ENV": "production"}, dotenv=tmp_path / "none")
    message = refused.value.message
    assert message.startswith("URBASIG_ENV=production : le service ne peut pas démarrer ainsi")
    assert all(name in message for name in PRODUCTION_NAMES), message
    assert "URBASIG_SIGNING_CERT" in message and "URBASIG_SIGNING_CA" in message


@pytest.mark.parametrize("change,named", [
    ({"URBASIG_SECRET_KEY": None}, "URBASIG_SECRET_KEY est vide"),
    ({"URBASIG_PAYMENT_SECRET": ""}, "URBASIG_PAYMENT_SECRET est vide"),
    ({"URBASIG_PAYMENT_GATEWAY_URL": None}, "URBASIG_PAYMENT_GATEWAY_URL doit être l'adresse https"),
    ({"URBASIG_PAYMENT_GATEWAY_URL": "http://127.0.0.1:5055/pay"}, "URBASIG_PAYMENT_GATEWAY_URL"),  # not even loopback
    ({"URBASIG_PAYMENT_GATEWAY_URL": "https://"}, "URBASIG_PAYMENT_GATEWAY_URL"),
    ({"URBASIG_SMTP_HOST": None}, "URBASIG_SMTP_HOST est vide"),
    ({"URBASIG_SIGNING_CA": None}, "URBASIG_SIGNING_CA : sans clé ni certificats"),
    ({"URBASIG_SIGNING_KEY": "/nulle/part/key.pem"}, "URBASIG_SIGNING_KEY : fichier introuvable"),
    ({"URBASIG_PUBLIC_URL": "http://urba.auc.ma"}, "URBASIG_PUBLIC_URL doit être en https"),
    ({"URBASIG_TSA_URL": None}, "URBASIG_TSA_URL est vide"),
])
def test_production_refuses_each_missing_piece_by_its_name(tmp_path, change, named):
    assert _production(tmp_path).payment_gateway_url == "https://paiement.banque.example/pay"  # complete: starts
    with pytest.raises(ConfigError, match=named) as refused:
        _production(tmp_path, **change)
    assert refused.value.message.count("\n- ") == 1  # only that one


def test_development_starts_with_nothing_configured(tmp_path):
    s = Settings.from_env({}, dotenv=tmp_path / "none")
    assert s.development and s.test_gateway and (s.payment_gateway_url, s.smtp_host) == ("", "")
    with pytest.raises(ConfigError, match="URBASIG_ENV vaut development ou production"):
        Settings.from_env({"URBASIG_ENV": "prod"}, dotenv=tmp_path / "none")
