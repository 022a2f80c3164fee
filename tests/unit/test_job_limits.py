"""Jobs without the database: the time limits read from URBASIG_JOBS_MAX_SECONDS, who a job belongs to."""

from __future__ import annotations

import pytest

from api.ogc.jobs import caller_of, checked_owner_token, new_owner_token
from api.ogc.runner import RunnerSettings
from gis.errors import ConfigError, InputError
from settings import DEFAULT_JOB_SECONDS, Settings, job_time_limits


def test_the_default_limits_are_generous_for_a_plan_impact_and_short_for_an_envelope():
    conf = RunnerSettings.from_settings(Settings())
    # a whole-city impact takes about a minute at 1,000,000 parcels; an envelope answers in milliseconds
    assert conf.limit_s("plan-impact") >= 600 and conf.limit_s("envelope") <= 60
    assert conf.limit_s("instruction") == conf.limit_s("permit-check") == DEFAULT_JOB_SECONDS


def test_a_bare_number_is_every_other_process_and_names_override_it():
    assert job_time_limits("30") == {"*": 30.0}
    assert job_time_limits("plan-impact=3600") == {"*": DEFAULT_JOB_SECONDS, "plan-impact": 3600.0}
    assert job_time_limits(" 90 , envelope = 5, *=45 ") == {"*": 45.0, "envelope": 5.0}
    conf = RunnerSettings.from_settings(Settings(jobs_max_seconds="90,envelope=5"))
    assert (conf.limit_s("envelope"), conf.limit_s("lot-check")) == (5.0, 90.0)


@pytest.mark.parametrize(("text", "words"), [
    ("envelope=", "n'est pas un nombre"), ("envelope=dix", "n'est pas un nombre"), ("0", "positif"),
    ("envelope=-1", "positif"), ("nan", "positif"), ("inf", "positif"), ("Plan Impact=60", "illisible"),
])
def test_bad_limits_are_refused_at_start_up_in_french(text, words, tmp_path):
    with pytest.raises(ConfigError, match="URBASIG_JOBS_MAX_SECONDS") as caught:
        Settings.from_env({"URBASIG_JOBS_MAX_SECONDS": text}, dotenv=tmp_path / "none")
    assert words in caught.value.message


def test_a_limit_for_a_process_that_does_not_exist_is_refused():
    with pytest.raises(ConfigError, match="processus inconnu : plan-impacts"):
        RunnerSettings.from_settings(Settings(jobs_max_seconds="plan-impacts=60"))


def test_anonymous_callers_list_by_their_token_and_are_bounded_by_their_address():
    alice, bob = new_owner_token("s"), new_owner_token("s")
    a, b = caller_of("s", "10.0.0.1", owner_token=alice), caller_of("s", "10.0.0.1", owner_token=bob)
    assert a.client != b.client and a.submitter == b.submitter  # one NAT: two lists, one bound
    assert caller_of("s", "10.0.0.1").client is None  # no token: nobody's list
    assert caller_of("s", "10.0.0.2", owner_token=alice).client == a.client  # the token, not the address
    with pytest.raises(InputError, match="X-Jobs-Owner"):  # signed with the session key: another key refuses it
        caller_of("autre secret", "10.0.0.1", owner_token=alice)
    keyed = caller_of("s", "10.0.0.1", partner_key="clé", owner_token=alice)
    staff = caller_of("s", "10.0.0.1", account_id=7, owner_token=alice)
    assert keyed.client == keyed.submitter != staff.client == staff.submitter
    assert len({a.client, keyed.client, staff.client, a.submitter}) == 4
    forged = alice[:33] + ("A" * 22 if alice[33:] != "A" * 22 else "B" * 22)
    for bad in ("", "court", "A" * 43, alice[:-1], alice + "A", "é" * 55, alice.replace(".", "/"), forged):
        with pytest.raises(InputError, match="X-Jobs-Owner"):
            checked_owner_token("s", bad)
    assert checked_owner_token("s", alice) == alice
