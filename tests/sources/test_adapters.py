"""Adapters on loader-shaped fixtures: the real `dbt build` of staging on a warehouse holding a
Segment schema, Fivetran's Shopify tables and Fivetran's HubSpot contacts, with no settings
(the shapes are recognised), then the same loaders' variants named by settings."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from byod import dbt, rows, scalar, settings_for
from shapes import ShopWorld, hubspot_contacts, write

from tessera.dbt import DbtError
from tessera.sources.contract import load_contract


@pytest.fixture(scope="module")
def world() -> ShopWorld:
    return ShopWorld(customers=300, anonymous_visitors=60, seed=11).build()


@pytest.fixture(scope="module")
def discovered(tmp_path_factory: pytest.TempPathFactory, world: ShopWorld) -> Path:
    """Segment in schema `website`, Shopify in `shopify`, HubSpot in `hubspot`; no settings."""
    warehouse = tmp_path_factory.mktemp("adapters") / "wh.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        world.write_segment(con, "website")
        world.write_shopify(con, "shopify")
        con.execute("create schema hubspot")
        write(con, "hubspot", "contact", hubspot_contacts(world))
    results = dbt(settings_for(warehouse), ["build", "--select", "staging"])
    failed = [r["unique_id"] for r in results if r["status"] not in ("success", "pass", "warn")]
    assert failed == []
    return warehouse


def _frame(world: ShopWorld, name: str) -> pd.DataFrame:
    return world.frames[name]


def test_every_adapter_yields_exactly_the_contract_columns_and_types(discovered: Path) -> None:
    contract = load_contract()
    for source, table in (
        ("segment", "events"),
        ("shop", "orders"),
        ("shop", "order_items"),
        ("shop", "returns"),
        ("shop", "customers"),
        ("crm", "crm_contacts"),
    ):
        described = rows(discovered, f"describe staging.base_{source}__{table}")
        spec = contract.table(source, table)
        assert [r[0] for r in described] == spec.column_names, table
        types = {
            "VARCHAR": "varchar",
            "TIMESTAMP": "timestamp",
            "DOUBLE": "double",
            "INTEGER": "integer",
            "BOOLEAN": "boolean",
        }
        assert [types.get(r[1], r[1]) for r in described] == [c.data_type for c in spec.columns], (
            table
        )


def test_segment_calls_become_events_once_each(discovered: Path, world: ShopWorld) -> None:
    tracks, pages, identifies = (_frame(world, n) for n in ("tracks", "pages", "identifies"))
    unique_calls = tracks.id.nunique() + pages.id.nunique() + identifies.id.nunique()
    assert len(tracks) > tracks.id.nunique()  # the fixture delivered one call twice
    assert scalar(discovered, "select count(*) from staging.stg_segment__events") == unique_calls
    by_type = dict(
        rows(discovered, "select event_type, count(*) from staging.stg_segment__events group by 1")
    )
    assert by_type == {
        "track": tracks.id.nunique(),
        "page": len(pages),
        "identify": len(identifies),
    }
    # event names are the names as sent (event_text), not Segment's snake_case slug
    names = {
        r[0]
        for r in rows(
            discovered,
            "select distinct event_name from "
            "staging.stg_segment__events where event_name is not null",
        )
    }
    assert names == {"Product Viewed", "Product Added", "Order Completed"}


def test_segment_properties_and_traits_land_in_their_columns(
    discovered: Path, world: ShopWorld
) -> None:
    completed = _frame(world, "order_completed").iloc[0]
    order_id, revenue = rows(
        discovered,
        f"select order_id, revenue from staging.stg_segment__events "
        f"where source_record_id = '{completed.id}'",
    )[0]
    assert (order_id, revenue) == (completed.order_id, pytest.approx(completed.revenue))
    viewed = _frame(world, "product_viewed").iloc[0]
    assert rows(
        discovered,
        f"select product_id, category, price from staging.stg_segment__events"
        f" where source_record_id = '{viewed.id}'",
    )[0] == (viewed.product_id, viewed.category, pytest.approx(viewed.price))
    identify = _frame(world, "identifies").iloc[0]
    email, phone, first = rows(
        discovered,
        "select email, phone, first_name from "
        f"staging.stg_segment__events where source_record_id = "
        f"'{identify.id}'",
    )[0]
    assert email == identify.email.strip().lower()
    assert phone is None  # the loader never created a phone column
    assert first == identify.first_name
    page = _frame(world, "pages").iloc[0]
    assert rows(
        discovered,
        "select page_path, page_url, channel from staging.stg_segment__events"
        f" where source_record_id = '{page.id}'",
    )[0] == (page.path, page.url, "web")


def test_shopify_orders_keep_real_orders_and_map_status_and_amounts(
    discovered: Path, world: ShopWorld
) -> None:
    orders = _frame(world, "order")
    real = orders[~orders.test]
    assert scalar(discovered, "select count(*) from staging.stg_shop__orders") == len(real)
    assert (
        scalar(
            discovered, "select count(*) from staging.stg_shop__orders where email = 'qa@shop.test'"
        )
        == 0
    )
    expected = real.assign(
        status=real.apply(
            lambda o: (
                "cancelled"
                if pd.notna(o.cancelled_at)
                else "refunded"
                if o.financial_status == "refunded"
                else "completed"
            ),
            axis=1,
        )
    )
    got = dict(rows(discovered, "select status, count(*) from staging.stg_shop__orders group by 1"))
    assert got == expected.status.value_counts().to_dict()
    assert {"cancelled", "refunded", "completed"} <= set(got)
    one = real.iloc[3]
    quantity = _frame(world, "order_line").query("order_id == @one.id").quantity.sum()
    assert rows(
        discovered,
        "select user_id, email, total, subtotal, item_count, shipping_country,"
        " ordered_at from staging.stg_shop__orders where order_id = "
        f"'{one.id}'",
    )[0] == (
        str(one.customer_id),
        one.email.lower(),
        pytest.approx(one.total_price),
        pytest.approx(one.total_line_items_price),
        quantity,
        "US",
        one.processed_at,
    )


def test_shopify_lines_returns_and_customers(discovered: Path, world: ShopWorld) -> None:
    lines, products = _frame(world, "order_line"), _frame(world, "product")
    real_orders = set(_frame(world, "order").query("not test").id)
    real_lines = lines[lines.order_id.isin(real_orders)]
    assert scalar(discovered, "select count(*) from staging.stg_shop__order_items") == len(
        real_lines
    )
    line = real_lines.iloc[0]
    category = products.set_index("id").product_type[line.product_id]
    assert rows(
        discovered,
        "select line_number, category, quantity, unit_price from "
        f"staging.stg_shop__order_items where order_id = '{line.order_id}' "
        f"and product_id = '{line.product_id}'",
    )[0] == (line["index"], category, line.quantity, pytest.approx(line.price))
    refunds, line_refunds = _frame(world, "refund"), _frame(world, "order_line_refund")
    assert scalar(discovered, "select count(*) from staging.stg_shop__returns") == len(refunds)
    assert scalar(discovered, "select sum(amount) from staging.stg_shop__returns") == (
        pytest.approx(line_refunds.subtotal.sum())
    )
    customers = _frame(world, "customer")
    assert scalar(discovered, "select count(*) from staging.stg_shop__customers") == len(customers)
    assert scalar(discovered, "select count(phone) from staging.stg_shop__customers") == (
        customers.phone.notna().sum()
    )


def test_hubspot_contacts_skip_deleted_and_take_mobile_phone(
    discovered: Path, world: ShopWorld
) -> None:
    contacts = hubspot_contacts(world)
    live = contacts[~contacts._fivetran_deleted]
    assert scalar(discovered, "select count(*) from staging.stg_crm__contacts") == len(live)
    with_mobile = live[live.property_mobilephone.notna()].iloc[0]
    got = rows(
        discovered,
        "select email, phone, first_name, company, lead_source, created_at "
        f"from staging.stg_crm__contacts where crm_id = '{with_mobile.id}'",
    )[0]
    assert got[0] == with_mobile.property_email.lower()
    assert got[1].startswith("+1") and got[1][-4:] == with_mobile.property_mobilephone[-4:]
    assert got[2:] == (
        with_mobile.property_firstname,
        "Example Inc",
        "ORGANIC_SEARCH",
        with_mobile.property_createdate,
    )


@pytest.fixture(scope="module")
def person_of(discovered: Path) -> dict[tuple[str, str], str]:
    """(id_type, id_value) -> person_id after `dbt run` of identity on the loader shapes."""
    dbt(settings_for(discovered), ["run", "--select", "+identity_graph"])
    graph = rows(discovered, "select id_type, id_value, person_id from identity.identity_graph")
    return {(t, v): p for t, v, p in graph}


def test_identity_links_the_web_visitors_to_the_buyers(
    world: ShopWorld, person_of: dict[tuple[str, str], str]
) -> None:
    """The Done-when of #20: every web visitor who logged in or gave an email is the same
    person as the Shopify customer; visitors who never identified stay apart."""
    linked = [a for a, c in world.web_identity.items() if c in world.identified]
    assert len(linked) > 100
    for anonymous_id in linked:
        customer = world.web_identity[anonymous_id]
        assert person_of[("anonymous_id", anonymous_id)] == person_of[("user_id", customer)]
    never = [a for a, c in world.web_identity.items() if c not in world.identified]
    assert never and all(
        person_of.get(("anonymous_id", a)) != person_of[("user_id", world.web_identity[a])]
        for a in never
    )


def test_a_gift_shipped_to_someone_else_gives_the_buyer_no_phone(
    discovered: Path, world: ShopWorld, person_of: dict[tuple[str, str], str]
) -> None:
    """A Shopify order shipped to another name carries the recipient's phone in its shipping
    address: it is not the buyer's phone, so it must not join the buyer with the recipient.
    An order shipped to the buyer's own name (any case or spacing), or whose billing name is
    missing, keeps the shipping phone."""
    assert len(world.gifts) >= 5
    phones = dict(rows(discovered, "select order_id, phone from staging.stg_shop__orders"))
    recipients_with_phones = 0
    for order_id, (buyer, recipient) in world.gifts.items():
        assert phones[str(order_id)] is None, order_id
        assert person_of[("user_id", buyer)] != person_of[("user_id", recipient)]
        # 555-0100..0199 are reserved for fiction: identity keeps no such number
        recipient_phone = f"+1415555{int(recipient) - 3_500_000_000_000:04d}"
        if ("phone", recipient_phone) in person_of:
            recipients_with_phones += 1
            assert person_of[("phone", recipient_phone)] == person_of[("user_id", recipient)]
    assert recipients_with_phones >= 3
    orders = world.frames["order"]
    own = orders[
        ~orders.test & ~orders.id.isin(world.gifts) & orders.shipping_address_phone.notna()
    ]
    respelt = own.billing_address_name.notna() & (
        own.billing_address_name != own.shipping_address_name
    )
    assert own.billing_address_name.isna().any() and respelt.any()
    assert all(phones[str(order_id)] is not None for order_id in own.id)


# --- variants named by settings ------------------------------------------------------------


@pytest.fixture(scope="module")
def variants(tmp_path_factory: pytest.TempPathFactory, world: ShopWorld) -> Path:
    """RudderStack's flavour (context.traits on every call, a mobile app with device ids) and
    Shopify's GraphQL-era Fivetran columns, each next to a decoy of the same shape."""
    warehouse = tmp_path_factory.mktemp("variants") / "wh.duckdb"
    tracks = world.frames["tracks"].head(40).copy()
    tracks["context_traits_email"] = "App.User@Example.com"
    tracks["context_os_name"] = "Android"
    tracks["context_device_id"] = "dev-" + tracks.index.astype(str)
    tracks = tracks.drop(columns=["context_library_name"])
    orders = (
        world.frames["order"]
        .rename(
            columns={
                "currency": "currency_code",
                "total_price": "total_price_set_shop_amount",
                "subtotal_price": "subtotal_price_set_shop_amount",
                "financial_status": "display_financial_status",
            }
        )
        .drop(columns=["total_line_items_price"])
    )
    orders["display_financial_status"] = orders.display_financial_status.str.upper()
    lines = world.frames["order_line"].drop(columns=["index", "price"])
    lines["original_total_set_shop_amount"] = world.frames["order_line"].price * lines.quantity
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema rudder_app")
        write(con, "rudder_app", "tracks", tracks, drop_empty_columns=True)
        world.write_segment(con, "website")  # a decoy Segment schema the settings do not name
        con.execute("create schema shopify_gql")
        write(con, "shopify_gql", "order", orders)
        write(con, "shopify_gql", "order_line", lines)
        world.write_shopify(con, "shopify")  # a decoy
    return warehouse


VARIANT_VARS = {
    "tessera_sources": {
        "segment": {"adapter": "rudderstack", "schema": "rudder_app"},
        "shop": {"adapter": "shopify_fivetran", "schema": "shopify_gql"},
    }
}


def test_named_adapters_read_the_named_schema_and_its_column_variants(
    variants: Path, world: ShopWorld
) -> None:
    dbt(
        settings_for(variants),
        ["run", "--select", "+stg_segment__events", "+stg_shop__orders", "+stg_shop__order_items"],
        vars=VARIANT_VARS,
    )
    assert scalar(variants, "select count(*) from staging.stg_segment__events") == 40
    assert rows(variants, "select distinct email, channel from staging.stg_segment__events") == [
        ("app.user@example.com", "android")
    ]
    assert (
        scalar(variants, "select count(distinct device_id) from staging.stg_segment__events") == 40
    )
    orders = world.frames["order"].query("not test")
    assert scalar(variants, "select count(*) from staging.stg_shop__orders") == len(orders)
    assert scalar(variants, "select sum(total) from staging.stg_shop__orders") == pytest.approx(
        orders.total_price.sum()
    )
    assert (
        scalar(variants, "select count(*) from staging.stg_shop__orders where status = 'refunded'")
        == (orders.financial_status == "refunded").sum()
    )
    lines = rows(
        variants,
        "select min(line_number), max(line_number), sum(unit_price * quantity)"
        " from staging.stg_shop__order_items",
    )[0]
    real = world.frames["order_line"][world.frames["order_line"].order_id.isin(orders.id)]
    assert lines[0] == 1 and lines[2] == pytest.approx((real.price * real.quantity).sum())


def test_two_schemas_of_one_shape_are_not_guessed_between(variants: Path) -> None:
    """Without settings, two Segment schemas (rudder_app, website) are ambiguous: the source is
    built empty with a warning naming both, never read from an arbitrary one; with
    enabled: true it fails the build."""
    dbt(settings_for(variants), ["run", "--select", "base_segment__events"])
    assert scalar(variants, "select count(*) from staging.base_segment__events") == 0
    with pytest.raises(DbtError) as failure:
        dbt(
            settings_for(variants),
            ["run", "--select", "base_segment__events"],
            vars={"tessera_sources": {"segment": {"enabled": True}}},
        )
    assert "rudder_app" in str(failure.value) or "segment" in str(failure.value)


def test_staging_unit_tests_do_not_depend_on_the_warehouse_tables(discovered: Path) -> None:
    """dbt builds a unit test's fixture from its input's columns: the staging unit tests read
    the base models (the contract's columns), so they pass on a warehouse whose tables are a
    loader's, not the contract's."""
    results = dbt(settings_for(discovered), ["test", "--select", "staging,resource_type:unit_test"])
    unit = [r for r in results if r["unique_id"].startswith("unit_test.")]
    assert len(unit) >= 4 and all(r["status"] == "pass" for r in unit)


def test_a_timestamp_with_an_offset_becomes_utc(tmp_path: Path) -> None:
    """Text timestamps with an offset or Z are converted to UTC; without one they are UTC."""
    warehouse = tmp_path / "wh.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema raw")
        con.execute("create table raw.orders (order_id varchar, ordered_at varchar)")
        con.execute(
            "insert into raw.orders values ('a', '2026-03-01T10:00:00+02:00'), "
            "('b', '2026-03-01T10:00:00Z'), ('c', '2026-03-01 10:00:00'), "
            "('d', 'not a date')"
        )
    dbt(settings_for(warehouse), ["run", "--select", "+stg_shop__orders"])
    got = dict(rows(warehouse, "select order_id, ordered_at from staging.base_shop__orders"))
    assert got == {
        "a": datetime(2026, 3, 1, 8),
        "b": datetime(2026, 3, 1, 10),
        "c": datetime(2026, 3, 1, 10),
        "d": None,
    }
