"""Alerts: a failed, partial or cancelled sync, or one over the error-rate threshold, posts a
Slack-compatible message to the configured webhook, without secrets or row values."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from retl_helpers import HUBSPOT_TOKEN, execute, hubspot_destination, hubspot_sync, run, sync_paths

from reverse_etl.destinations.base import DestinationAuthError
from reverse_etl.stopping import StopRequest
from reverse_etl.testing import EmulatorHandle, start_emulator
from tessera.settings import Settings

SLACK_SECRET = "T000-B000-XXXXSECRETXXXX"


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[EmulatorHandle]:
    with start_emulator("slack", token=SLACK_SECRET) as handle:
        monkeypatch.setenv(
            "TESSERA_ALERT_WEBHOOK_URL", f"{handle.base_url}/services/{SLACK_SECRET}"
        )
        yield handle


def paths_with_alerts(tmp_path: Path, hubspot: EmulatorHandle, alerts: dict | None) -> Any:
    paths = sync_paths(tmp_path, [hubspot_destination(hubspot.base_url)], [hubspot_sync()])
    if alerts is not None:
        path = paths.syncs_dir / "destinations.yml"
        data = yaml.safe_load(path.read_text())
        path.write_text(yaml.safe_dump({**data, "alerts": alerts}))
    return paths


def reject_five(settings: Settings) -> None:
    execute(
        settings,
        "update segments.test_audience set email = 'bad-' || person_id "
        "where person_id between 'p0000001' and 'p0000005'",
    )


def texts(slack: EmulatorHandle) -> list[str]:
    return [m["text"] for m in slack.app.messages]


def test_a_partial_run_alerts_with_counts_and_where_the_errors_are(
    tmp_path: Path, settings: Settings, hubspot: EmulatorHandle, slack: EmulatorHandle
) -> None:
    paths = paths_with_alerts(tmp_path, hubspot, None)
    reject_five(settings)
    result = run(settings, paths, "crm", origin="cli")
    assert result.status == "partial" and result.alerted
    [message] = slack.app.messages
    assert message["blocks"][0]["text"]["type"] == "mrkdwn"
    text = message["text"]
    assert "`crm`" in text and "partial" in text and "from cli" in text
    assert "rejected 5 of 1,960" in text and "tessera sync errors crm" in text
    assert result.run_id in text
    assert "bad-p0000001" not in text and HUBSPOT_TOKEN not in text and SLACK_SECRET not in text

    before = len(slack.app.messages)
    execute(settings, "update segments.test_audience set email = person_id || '@ok.example'")
    assert run(settings, paths, "crm").status == "success"
    assert len(slack.app.messages) == before  # a clean run says nothing


def test_a_failed_run_alerts_without_the_secret(
    tmp_path: Path,
    settings: Settings,
    hubspot: EmulatorHandle,
    slack: EmulatorHandle,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    paths = paths_with_alerts(tmp_path, hubspot, None)
    monkeypatch.setenv("TEST_HUBSPOT_TOKEN", "revoked-" + HUBSPOT_TOKEN)
    with pytest.raises(DestinationAuthError):
        run(settings, paths, "crm")
    [text] = texts(slack)
    assert "failed" in text and "DestinationAuthError" in text and "401" in text
    assert HUBSPOT_TOKEN not in text and SLACK_SECRET not in text


def test_error_rate_threshold_and_statuses_are_configurable(
    tmp_path: Path, settings: Settings, hubspot: EmulatorHandle, slack: EmulatorHandle
) -> None:
    reject_five(settings)  # 5 of 1,960 rows: 0.26%
    paths = paths_with_alerts(tmp_path, hubspot, {"on": ["failed"], "error_rate": 0.01})
    assert run(settings, paths, "crm").status == "partial"
    assert slack.app.messages == []  # under 1%, and partial alone does not alert
    paths = paths_with_alerts(tmp_path, hubspot, {"on": ["failed"], "error_rate": 0.001})
    assert run(settings, paths, "crm", full_resync=True).status == "partial"
    [text] = texts(slack)
    assert "error rate 0.3% above 0.1%" in text


def test_a_cancelled_run_alerts(
    tmp_path: Path, settings: Settings, hubspot: EmulatorHandle, slack: EmulatorHandle
) -> None:
    stop = StopRequest()
    stop.request("SIGTERM")
    result = run(settings, paths_with_alerts(tmp_path, hubspot, None), "crm", stop=stop)
    assert result.status == "cancelled" and result.stats.sent_ok == 0
    assert "cancelled" in texts(slack)[0] and "SIGTERM" in texts(slack)[0]


def test_no_webhook_configured_means_no_alert_and_no_failure(
    tmp_path: Path, settings: Settings, hubspot: EmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TESSERA_ALERT_WEBHOOK_URL", raising=False)
    reject_five(settings)
    result = run(settings, paths_with_alerts(tmp_path, hubspot, None), "crm")
    assert result.status == "partial" and not result.alerted


def test_an_unreachable_alert_webhook_never_fails_the_sync(
    tmp_path: Path, settings: Settings, hubspot: EmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TESSERA_ALERT_WEBHOOK_URL", "http://127.0.0.1:9/services/nothing")
    reject_five(settings)
    result = run(settings, paths_with_alerts(tmp_path, hubspot, {"timeout_seconds": 0.5}), "crm")
    assert result.status == "partial" and not result.alerted


def test_a_bad_alerts_block_is_a_clear_config_error(
    tmp_path: Path, hubspot: EmulatorHandle
) -> None:
    from reverse_etl.config import ConfigError

    paths = paths_with_alerts(tmp_path, hubspot, {"error_rate": 3, "on": ["sometimes"]})
    with pytest.raises(ConfigError, match=r"(?s)destinations.yml.*alerts.error_rate"):
        paths.catalog()
