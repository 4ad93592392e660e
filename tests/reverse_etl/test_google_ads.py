"""Google Ads Customer Match against its emulator: Google's documented normalisation (in
Python and warehouse SQL), the job protocol, partial failures, failed and concurrent jobs,
the per-request identifier limit, and config validation."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import urllib3
from more_destination_cases import (
    ENV,
    GOOGLE_CUSTOMER,
    GOOGLE_DEVELOPER_TOKEN,
    GOOGLE_LIST,
    GOOGLE_TOKEN,
    google_actual,
    google_destination,
    google_expected,
    google_sync,
)
from retl_helpers import SEGMENT, execute, query, run, settings_for, sync_paths, write_config

from reverse_etl.config import Catalog, ConfigError
from reverse_etl.destinations import build_destination
from reverse_etl.destinations.base import PlanRow
from reverse_etl.dialect import hash_expression
from reverse_etl.hashing import hash_value, normalise_email_google, normalise_phone_e164
from reverse_etl.testing import EmulatorHandle, start_emulator
from tessera.settings import Settings
from tessera.warehouse import Warehouse

# Google's "Format user data" page (Data Manager API / Customer Match): input -> normalised
GOOGLE_EMAILS = [
    ("cloudy.sanfrancisco+shopping@gmail.com", "cloudysanfrancisco@gmail.com"),
    ("user.name+NYC@Example.com", "user.name+nyc@example.com"),
    ("  Jane.Doe@GoogleMail.com\t", "janedoe@googlemail.com"),
]
GOOGLE_PHONES = [("+1 (800) 555-0100", "+18005550100"), ("+44 20 7946 0958", "+442079460958")]


@pytest.fixture
def google(monkeypatch: pytest.MonkeyPatch) -> Iterator[EmulatorHandle]:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    with start_emulator("google_ads", token=GOOGLE_TOKEN) as handle:
        yield handle


def test_hashing_follows_googles_documented_normalisation(tmp_path: Path) -> None:
    for raw, normalised in GOOGLE_EMAILS:
        assert normalise_email_google(raw) == normalised
        assert hash_value("email_google", raw) == hashlib.sha256(normalised.encode()).hexdigest()
    for raw, normalised in GOOGLE_PHONES:
        assert normalise_phone_e164(raw) == normalised
        assert hash_value("phone_e164", raw) == hashlib.sha256(normalised.encode()).hexdigest()
    assert hash_value("phone_e164", "n/a") is None and hash_value("email_google", " ") is None
    with Warehouse(settings_for(tmp_path)).session() as s:
        values = [*GOOGLE_EMAILS, ("a@b@gmail.com", ""), ("", "")]
        for rule, raw in [("email_google", v) for v, _ in values] + [
            ("phone_e164", v) for v, _ in [*GOOGLE_PHONES, ("n/a", ""), ("0049 30 1234", "")]
        ]:
            sql = f"select {hash_expression(s.dialect, rule, 'v')} from (select ? as v)"
            assert s.scalar(sql, [raw]) == hash_value(rule, raw), (rule, raw)


def ran_jobs(google: EmulatorHandle) -> list:
    return [job for job in google.app.jobs.values() if job.status != "PENDING"]


def test_sync_runs_one_job_per_batch_and_members_match_the_segment(
    tmp_path: Path, settings: Settings, google: EmulatorHandle
) -> None:
    paths = sync_paths(tmp_path, [google_destination(google.base_url)], [google_sync()])
    result = run(settings, paths, "gads")
    assert result.status == "success" and result.stats.sent_ok == 1960
    verbs = [r.path.rsplit(":", 1)[-1] if ":" in r.path else "poll" for r in google.app.requests]
    # create, add, run, poll; a create or addOperations repeated is a retry in place (the
    # test client's 0.5 s timeout expires on a loaded machine), counted in the run's retries
    steps = [v for i, v in enumerate(verbs) if i == 0 or v != verbs[i - 1]]
    assert steps == ["create", "addOperations", "run", "poll"], verbs
    repeated = len(verbs) - verbs.count("poll") - 3
    assert repeated <= result.stats.retries, (verbs, result.stats.retries)
    # a create retried in place leaves an empty job that is never run
    [job] = ran_jobs(google)
    assert job.status == "SUCCESS" and job.consented and len(set(job.operations)) == 1960
    # an addOperations retried after the emulator had taken it adds the batch again (seen in
    # CI on 12-08: 3,920 operations); a member added twice is one member, as at Google
    assert 1960 <= len(job.operations) <= 1960 * verbs.count("addOperations")
    assert google_actual(google.app) == google_expected(settings)

    # a changed email: the old identifier tuple is removed, the new one added
    execute(settings, f"update {SEGMENT} set email = 'x@gmail.com' where person_id = 'p0000001'")
    again = run(settings, paths, "gads")
    assert again.stats.sent_ok == 1 and len(ran_jobs(google)) == 3  # a remove and a create job
    assert google_actual(google.app) == google_expected(settings)


def test_a_member_who_leaves_takes_no_identifier_a_staying_member_shares(
    tmp_path: Path, settings: Settings, google: EmulatorHandle
) -> None:
    """Google removes the user a remove operation matches, so the emulator removes every
    member sharing an identifier: the removal names only what no staying member holds."""
    consented = query(
        settings,
        f"select s.person_id, s.phone from {SEGMENT} s join profiles.customer_profiles p "
        "on p.person_id = s.person_id and p.consent_ads "
        "where s.email is not null and s.phone is not null order by s.person_id limit 2",
    )
    (stay, _), (leaves, leaving_phone) = consented.itertuples(index=False)
    execute(
        settings,
        f"update {SEGMENT} set email = 'family@gmail.com' "
        f"where person_id in ('{stay}', '{leaves}')",
    )
    paths = sync_paths(tmp_path, [google_destination(google.base_url)], [google_sync()])
    run(settings, paths, "gads")
    assert google_actual(google.app) == google_expected(settings)

    execute(settings, f"delete from {SEGMENT} where person_id = '{leaves}'")
    again = run(settings, paths, "gads")
    assert again.plan.counts["removed"] == again.plan.counts["narrowed"] == 1
    assert again.stats.sent_ok == 1
    assert google_actual(google.app) == google_expected(settings)  # the family stays in
    gone = hash_value("phone_e164", leaving_phone)
    assert not any(gone in member for member in google_actual(google.app))


def test_partial_failures_reject_only_their_rows(tmp_path: Path, google: EmulatorHandle) -> None:
    syncs_dir = write_config(
        tmp_path / "syncs", [google_destination(google.base_url)], [google_sync()]
    )
    catalog = Catalog.load(syncs_dir)
    destination = build_destination(catalog.destinations["google"], catalog.sync("gads"))
    good = hash_value("email_google", "a@example.com")
    rows = [
        PlanRow("k1", "added", "h", None, {"hashedEmail": good, "hashedPhoneNumber": None}),
        PlanRow("k2", "added", "h", None, {"hashedEmail": "NOT-A-HASH", "hashedPhoneNumber": None}),
        PlanRow("k3", "added", "h", None, {"hashedEmail": None, "hashedPhoneNumber": None}),
    ]
    results = {r.key: r for r in destination.send(rows, "upsert")}
    assert results["k1"].ok and results["k1"].dest_id == f"{good}|"
    assert not results["k2"].ok and "SHA-256" in (results["k2"].error or "")
    assert not results["k3"].ok and "no email or phone" in (results["k3"].error or "")
    assert google.app.members[GOOGLE_LIST] == {(good, "")}


def test_failed_and_concurrent_jobs_are_retried_without_loss(
    tmp_path: Path, settings: Settings, google: EmulatorHandle
) -> None:
    google.app.fail_jobs = 1
    paths = sync_paths(
        tmp_path, [google_destination(google.base_url, batch_size=1000)], [google_sync()]
    )
    first = run(settings, paths, "gads")
    assert first.status == "partial" and first.stats.rejected == 1000
    errors = query(settings, "select distinct error from tessera_sync.errors")
    assert errors.error.tolist() == ["job failed: INTERNAL_ERROR: emulated job failure"]

    # a job still running on the list when the sync's job starts; held until it has turned
    # that job away, so the conflict does not depend on how fast this machine is
    google.app.hold_jobs = 1
    blocker = request(
        google,
        f"customers/{GOOGLE_CUSTOMER}/offlineUserDataJobs:create",
        {
            "job": {
                "type": "CUSTOMER_MATCH_USER_LIST",
                "customerMatchUserListMetadata": {
                    "userList": f"customers/{GOOGLE_CUSTOMER}/userLists/{GOOGLE_LIST}"
                },
            }
        },
    )[1]["resourceName"]
    remove = {"remove": {"userIdentifiers": [{"hashedEmail": "a" * 64}]}}
    assert request(google, f"{blocker}:addOperations", {"operations": [remove]})[0] == 200
    assert request(google, f"{blocker}:run", {})[0] == 200
    second = run(settings, paths, "gads")
    assert second.status == "success" and second.stats.retries >= 1
    assert 409 in google.app.statuses()
    assert google_actual(google.app) == google_expected(settings)


def request(handle: EmulatorHandle, path: str, body: dict) -> tuple[int, dict]:
    response = urllib3.request(
        "POST",
        f"{handle.base_url}/v19/{path}",
        body=json.dumps(body).encode(),
        headers={
            "Authorization": f"Bearer {GOOGLE_TOKEN}",
            "developer-token": GOOGLE_DEVELOPER_TOKEN,
            "Content-Type": "application/json",
        },
    )
    return response.status, json.loads(response.data or b"{}")


def test_emulator_enforces_identifier_limits_consent_and_developer_token(
    google: EmulatorHandle,
) -> None:
    list_name = f"customers/{GOOGLE_CUSTOMER}/userLists/{GOOGLE_LIST}"
    job = {"job": {"type": "CUSTOMER_MATCH_USER_LIST", "customerMatchUserListMetadata": {}}}
    jobs = f"customers/{GOOGLE_CUSTOMER}/offlineUserDataJobs"
    assert request(google, f"{jobs}:create", job)[0] == 400  # no user list
    job["job"]["customerMatchUserListMetadata"] = {"userList": list_name}
    resource = request(google, f"{jobs}:create", job)[1]["resourceName"]
    user = {"userIdentifiers": [{"hashedEmail": "b" * 64}, {"hashedPhoneNumber": "c" * 64}]}
    too_many = {"operations": [{"remove": user}] * 50_001}
    status, body = request(google, f"{resource}:addOperations", too_many)
    assert status == 400 and "TOO_MANY_USER_IDENTIFIERS" in json.dumps(body)
    crowded = {"userIdentifiers": [{"hashedEmail": "b" * 64}] * 21}
    status, body = request(
        google,
        f"{resource}:addOperations",
        {"operations": [{"remove": crowded}, {"create": user}], "enablePartialFailure": True},
    )
    failures = body["partialFailureError"]["details"][0]["errors"]
    assert status == 200 and [f["location"]["fieldPathElements"][0]["index"] for f in failures] == [
        0,
        1,
    ]
    assert "consent" in failures[1]["message"]  # creates need consent GRANTED on the job
    response = urllib3.request(
        "POST",
        f"{google.base_url}/v19/{jobs}:create",
        body=json.dumps(job).encode(),
        headers={"Authorization": f"Bearer {GOOGLE_TOKEN}", "Content-Type": "application/json"},
    )
    assert response.status == 401  # no developer-token header


@pytest.mark.parametrize(
    ("override", "words"),
    [
        ({"object": "my-list"}, "numeric user list id"),
        ({"hashing": {"hashedEmail": "email", "hashedPhoneNumber": "phone_e164"}}, "email_google"),
        ({"mapping": {"EMAIL_SHA256": "email"}}, "not a Customer Match identifier"),
        ({"consent": "email"}, "consent: ads"),
        ({"mode": "mirror"}, "not supported by google_ads"),
    ],
)
def test_bad_google_ads_syncs_are_refused_naming_the_field(
    tmp_path: Path, override: dict, words: str
) -> None:
    syncs_dir = write_config(
        tmp_path / "syncs", [google_destination("http://x")], [google_sync(**override)]
    )
    with pytest.raises(ConfigError, match=words):
        Catalog.load(syncs_dir)


def test_destination_without_customer_id_is_refused(tmp_path: Path, google: EmulatorHandle) -> None:
    destination = google_destination("http://x")
    destination["options"] = {}
    syncs_dir = write_config(tmp_path / "syncs", [destination], [google_sync()])
    catalog = Catalog.load(syncs_dir)
    with pytest.raises(ConfigError, match="customer_id"):
        build_destination(catalog.destinations["google"], catalog.sync("gads"))


def test_snowflake_sql_hashes_like_python_too() -> None:
    # fakesnow translates the Snowflake text with sqlglot and runs it on DuckDB: this proves
    # the Snowflake variant parses and means the same, not Snowflake's own regex engine
    import fakesnow
    import snowflake.connector

    values = [("email_google", raw) for raw, _ in GOOGLE_EMAILS] + [
        ("phone_e164", raw) for raw, _ in [*GOOGLE_PHONES, ("n/a", "")]
    ]
    with fakesnow.patch():
        cursor = snowflake.connector.connect(database="db", schema="s").cursor()
        for rule, raw in values:
            cursor.execute(
                f"select {hash_expression('snowflake', rule, 'v')} from (select %s as v)", (raw,)
            )
            assert cursor.fetchone()[0] == hash_value(rule, raw), (rule, raw)
