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
