"""A small temp DuckDB warehouse with the profiles, scores and identity contracts."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tessera.settings import Settings
from tessera.warehouse import Session, Warehouse

PERSONS = 200

CREATE_CONTRACT_TABLES = f"""
create schema profiles;
create schema ml;
create schema identity;
create schema segments;
create table profiles.customer_profiles as
select
    'p' || lpad(i::varchar, 5, '0') as person_id,
    'person' || i || '@example.com' as email,
    '+1415555' || lpad(i::varchar, 4, '0') as phone,
    'First' || i as first_name,
    'Last' || i as last_name,
    case when i % 3 = 0 then 'US' when i % 3 = 1 then 'GB' else 'DE' end as country,
    timestamp '2025-01-01' + to_days(i) as first_seen_at,
    timestamp '2026-11-01' + to_hours(i) as last_seen_at,
    i % 7 as orders_count,
    (i % 7) * 42.5 as revenue_total,
    case when i % 7 = 0 then null else timestamp '2026-10-01' + to_days(i % 60) end
        as last_order_at,
    case when i % 7 = 0 then null else 50 - (i % 60) end as days_since_last_order,
    case
        when i % 7 = 0 then 'prospect'
        when i % 5 = 0 then 'churned'
        when i % 11 = 0 then 'new'
        when i % 3 = 0 then 'at_risk'
        else 'active'
    end as lifecycle_stage,
    case
        when i % 7 = 0 then 'prospect'
        when i % 4 = 0 then 'cant_lose_them'
        else 'champions'
    end as rfm_segment,
    1 + i % 5 as clv_quintile,
    i % 2 = 0 as consent_email,
    i % 3 = 0 as consent_sms,
    i % 4 = 0 as consent_ads,
    -- beyond the contract's minimum: columns the starter segments read
    timestamp '2026-11-22 12:00' as as_of,
    case when i % 6 = 0 then timestamp '2026-11-22 12:00' - to_hours(i % 48) end
        as last_abandoned_cart_at,
    case when i % 4 = 1 then timestamp '2026-11-22' - to_days(i % 60) end
        as last_email_engaged_at
from range(1, {PERSONS + 1}) as t(i);
create table ml.person_scores as
select
    p.person_id,
    m.model,
    'v1' as model_version,
    ((hash(p.person_id || m.model) % 1000) / 1000.0) as score,
    1 + (hash(p.person_id || m.model) % 10) as decile,
    timestamp '2026-11-20' as scored_at,
    'recency' as reason_1,
    'frequency' as reason_2,
    'monetary' as reason_3
from profiles.customer_profiles p
cross join (values ('churn_90d'), ('purchase_30d')) as m(model);
create table identity.persons as
select person_id, first_seen_at, email is not null as is_known
from profiles.customer_profiles;
create table identity.identity_graph as
select 'email' as id_type, email as id_value, person_id, first_seen_at,
       last_seen_at as last_seen_at, ['crm'] as sources
from profiles.customer_profiles
union all
select 'phone', phone, person_id, first_seen_at, last_seen_at, ['shop']
from profiles.customer_profiles;
"""


def _settings(directory: Path) -> Settings:
    return dataclasses.replace(
        Settings.from_env({}),
        warehouse_path=directory / "wh.duckdb",
        artifacts_dir=directory / "artifacts",
    )


@pytest.fixture(scope="session")
def contract_warehouse_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once per test session; tests that write get their own copy."""
    settings = _settings(tmp_path_factory.mktemp("contract"))
    with Warehouse(settings).session() as session:
        for statement in CREATE_CONTRACT_TABLES.split(";"):
            if statement.strip():
                session.execute(statement)
    return settings.warehouse_path


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return _settings(tmp_path)


@pytest.fixture
def warehouse(settings: Settings, contract_warehouse_file: Path) -> Warehouse:
    shutil.copyfile(contract_warehouse_file, settings.warehouse_path)
    return Warehouse(settings)


@pytest.fixture
def session(contract_warehouse_file: Path, tmp_path: Path) -> Iterator[Session]:
    """Read-only, on the shared file: validation never writes."""
    settings = dataclasses.replace(_settings(tmp_path), warehouse_path=contract_warehouse_file)
    with Warehouse(settings).session(read_only=True) as s:
        yield s
