"""Hashing matches Meta's documented examples, in Python and in warehouse SQL; token bucket."""

from __future__ import annotations

import pytest
from retl_helpers import settings_for

from reverse_etl.dialect import hash_expression
from reverse_etl.hashing import hash_value, normalise_email, normalise_phone
from reverse_etl.ratelimit import TokenBucket
from tessera.warehouse import Warehouse

# Meta Conversions API "Customer Information Parameters" documented examples.
META_EMAIL = (
    "John_Smith@gmail.com",
    "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f",
)
META_PHONE = (
    "+1 (650) 555-1212",
    "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176",
)

MESSY = [
    ("email", "  John_Smith@GMAIL.com\t"),
    ("email", ""),
    ("email", None),
    ("phone", "+1 (650) 555-1212"),
    ("phone", "0044 20 7946 0958"),
    ("phone", "n/a"),
    ("phone", None),
    ("sha256", " loyalty-42 "),
]


def test_meta_documented_examples() -> None:
    assert normalise_email(META_EMAIL[0]) == "john_smith@gmail.com"
    assert hash_value("email", META_EMAIL[0]) == META_EMAIL[1]
    assert hash_value("email", "  JOHN_SMITH@gmail.com ") == META_EMAIL[1]
    assert normalise_phone(META_PHONE[0]) == "16505551212"
    assert hash_value("phone", META_PHONE[0]) == META_PHONE[1]
    assert hash_value("phone", "16505551212") == META_PHONE[1]


def test_warehouse_sql_hashes_exactly_like_python(tmp_path) -> None:
    settings = settings_for(tmp_path)
    with Warehouse(settings).session() as s:
        for rule, value in [*MESSY, ("email", META_EMAIL[0]), ("phone", META_PHONE[0])]:
            sql = f"select {hash_expression(s.dialect, rule, '?')}"
            assert s.scalar(sql, [value]) == hash_value(rule, value), (rule, value)


def test_empty_identifiers_hash_to_null_not_to_the_hash_of_nothing() -> None:
    assert hash_value("email", "   ") is None
    assert hash_value("phone", "ext.") is None


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_token_bucket_spreads_requests_at_the_configured_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(10 / 1.0, capacity=10, clock=clock, sleep=clock.sleep)
    for _ in range(30):
        bucket.acquire()
    # a full bucket of 10 immediately, then 20 more at 10/s
    assert clock.now == pytest.approx(2.0, abs=0.01)


def test_pause_from_retry_after_holds_every_caller() -> None:
    clock = FakeClock()
    bucket = TokenBucket(None, clock=clock, sleep=clock.sleep)
    bucket.acquire()
    bucket.pause(3.5)
    waited = bucket.acquire()
    assert waited == pytest.approx(3.5) and clock.now == pytest.approx(3.5)
