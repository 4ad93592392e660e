"""Tell a person when a sync fails, goes partial, is cancelled or rejects too many rows.

Configured by an optional `alerts:` block in `destinations.yml`:

    alerts:
      webhook_url_env: TESSERA_ALERT_WEBHOOK_URL   # the default; a Slack incoming webhook
      error_rate: 0.05                             # alert when more rows than this fail
      on: [failed, partial, cancelled]             # run statuses that alert (the default)

The webhook URL is a secret (Slack's carries its token), so it is read from the named
environment variable and never printed; with the variable unset there are no alerts. The
payload is Slack's (`text` plus one `mrkdwn` section), which Teams, Mattermost, Discord's
`/slack` endpoint and most chat bridges accept. Messages carry counts, the run id and where
the rejected rows are, never row values: error texts are scrubbed of credentials, email
addresses and long digit runs. A failed alert is logged and never fails the sync.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

import urllib3
from pydantic import BaseModel, ConfigDict, Field

from reverse_etl.jsonio import dumps

log = logging.getLogger("tessera.reverse_etl")

AlertOn = Literal["failed", "partial", "cancelled"]
EMAIL = re.compile(r"[^\s@'\"<>(),;:]+@[^\s@'\"<>(),;:]+")
DIGITS = re.compile(r"\+?\d[\d\s().-]{6,}\d")
QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")  # destinations quote the offending value


class AlertConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    webhook_url_env: str = Field(default="TESSERA_ALERT_WEBHOOK_URL", pattern=r"^[A-Z_][A-Z0-9_]*$")
    error_rate: float = Field(default=0.05, ge=0, le=1)
    on: tuple[AlertOn, ...] = ("failed", "partial", "cancelled")
    timeout_seconds: float = Field(default=5.0, gt=0)


@dataclass(frozen=True)
class RunSummary:
    sync_name: str
    destination: str
    status: str
    run_id: str
    origin: str
    sent_ok: int = 0
    rejected: int = 0
    removed: int = 0
    seconds: float = 0.0
    error: str | None = None
    not_delivered: int = 0  # rows of batches the destination never took: pending, not rejected

    @property
    def error_rate(self) -> float:
        attempted = self.sent_ok + self.rejected
        return self.rejected / attempted if attempted else 0.0


def scrub(text: str, redact: Callable[[str], str] | None = None) -> str:
    """No credentials (via the destination's own redaction), quoted values, emails or
    phone-like numbers: what is left says what went wrong, not to whom."""
    if redact is not None:
        text = redact(text)
    text = QUOTED.sub("'…'", text)
    text = EMAIL.sub("[email]", text)
    return DIGITS.sub("[number]", text)


def reasons(config: AlertConfig, run: RunSummary) -> list[str]:
    why = []
    if run.status in config.on:
        why.append(run.status)
    if run.error_rate > config.error_rate and run.status != "failed":
        why.append(f"error rate {run.error_rate:.1%} above {config.error_rate:.1%}")
    return why


def message(run: RunSummary, why: list[str]) -> dict[str, object]:
    attempted = run.sent_ok + run.rejected
    lines = [
        f"*Tessera sync `{run.sync_name}` -> {run.destination}: {run.status}* "
        f"({', '.join(why)}; from {run.origin})",
        f"sent {run.sent_ok:,}, rejected {run.rejected:,} of {attempted:,} "
        f"({run.error_rate:.1%}), removed {run.removed:,}, {run.seconds:.1f}s, run `{run.run_id}`",
    ]
    if run.not_delivered:
        lines.append(
            f"{run.not_delivered:,} rows not delivered (the destination took none of their "
            "batches); they are not rejections and the next run sends them."
        )
    if run.rejected:
        lines.append(
            f"Rejected rows: `tessera sync errors {run.sync_name}` "
            f"(table tessera_sync.errors, run_id = '{run.run_id}'); they are retried next run."
        )
    if run.error:
        lines.append(f"Error: {run.error[:500]}")
    text = "\n".join(lines)
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


def notify(
    config: AlertConfig | None,
    run: RunSummary,
    env: Mapping[str, str] | None = None,
    redact: Callable[[str], str] | None = None,
) -> bool:
    """Post the alert if this run calls for one; True when an alert was delivered."""
    if config is None:
        return False
    why = reasons(config, run)
    if not why:
        return False
    url = (os.environ if env is None else env).get(config.webhook_url_env)
    if not url:
        log.info(
            "sync %s %s: no alert sent (%s is not set)",
            run.sync_name,
            run.status,
            config.webhook_url_env,
        )
        return False
    if run.error:
        run = RunSummary(**{**run.__dict__, "error": scrub(run.error, redact).replace(url, "***")})
    body = dumps(message(run, why))
    http = urllib3.PoolManager(retries=urllib3.Retry(total=2, backoff_factor=0.5))
    try:
        response = http.request(
            "POST",
            url,
            body=body,
            headers={"Content-Type": "application/json"},
            timeout=urllib3.Timeout(total=config.timeout_seconds),
        )
    except urllib3.exceptions.HTTPError as exc:
        log.warning(
            "sync %s: the alert webhook could not be reached (%s)",
            run.sync_name,
            type(exc).__name__,
        )
        return False
    finally:
        http.clear()
    if response.status >= 300:
        log.warning("sync %s: the alert webhook answered HTTP %d", run.sync_name, response.status)
        return False
    return True
