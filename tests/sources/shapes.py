"""Warehouses in the exact shapes loaders write, for the adapter and bring-your-own-data tests.

Column names and types follow each loader's published schema, never Tessera's contract:
- Segment / RudderStack warehouse schema (segment.com/docs/connections/storage/warehouses/
  schema): tables tracks, pages, identifies, users and one table per track event named by the
  snake_cased event (order_completed ...); `id` is the messageId, traits and properties are
  top-level columns, context is flattened to context_<key>; a column exists only once a value
  was seen (this shop never sent a phone trait, so identifies has no phone column).
- Shopify as Fivetran lands it (fivetran/dbt_shopify, REST schema): order (a reserved word),
  order_line, customer, product, refund, order_line_refund, integer ids, _fivetran_synced.
- HubSpot contacts as Fivetran lands them: contact with property_<name> columns.

`ShopWorld` simulates one shop's customers: a purchase process (repeat buyers and one-timers
over 18 months), web sessions before most orders, identify calls after log-in (user id = the
Shopify customer id) or at newsletter sign-up (email only), anonymous-only visitors, duplicate
deliveries and a test order. It keeps which Segment anonymous ids belong to which customer, so
a test can check that identity links them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import duckdb
import numpy as np
import pandas as pd

START = datetime(2025, 1, 1)
DAYS = 548
CATEGORIES = ("apparel", "shoes", "home", "beauty", "outdoor")


@dataclass
class ShopWorld:
    customers: int = 600
    seed: int = 5
    anonymous_visitors: int = 200
    # filled by build(): Segment anonymous_id -> Shopify customer id (as text) it belongs to
    web_identity: dict[str, str] = field(default_factory=dict)
    # customer ids whose web visitor was identified (user id or email), i.e. linkable
    identified: set[str] = field(default_factory=set)
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    # filled by build(): gift order id -> (buyer's, recipient's customer id), shipped to the
    # recipient's name and phone (every 50th customer's first order)
    gifts: dict[int, tuple[str, str]] = field(default_factory=dict)

    def build(self) -> ShopWorld:
        rng = np.random.default_rng(self.seed)
        customers, orders, lines, refunds, line_refunds = [], [], [], [], []
        tracks, pages, identifies, events = (
            [],
            [],
            [],
            {"order_completed": [], "product_viewed": [], "product_added": []},
        )
        products = [
            {
                "id": 7_000_000 + i,
                "title": f"Product {i}",
                "product_type": CATEGORIES[i % 5],
                "vendor": "Acme",
                "created_at": START,
                "_fivetran_synced": START,
            }
            for i in range(40)
        ]
        order_id, line_id, refund_id = 4_000_000_000, 9_000_000_000, 800_000_000
        for i in range(self.customers):
            cid = 3_500_000_000_000 + i
            first = datetime_of(rng.integers(0, 84)) + timedelta(hours=int(rng.integers(8, 22)))
            email = f"customer.{i}@example.com"
            customers.append(
                {
                    "id": cid,
                    "first_name": f"First{i}",
                    "last_name": f"Last{i}",
                    "email": f"  Customer.{i}@Example.com" if i % 7 == 0 else email,
                    "phone": customer_phone(i),
                    "state": "enabled",
                    "orders_count": 0,
                    "total_spent": 0.0,
                    "created_at": first,
                    "updated_at": first,
                    "accepts_marketing": bool(i % 2),
                    "tax_exempt": False,
                    "verified_email": True,
                    "default_address_id": None,
                    "_fivetran_synced": first + timedelta(hours=2),
                }
            )
            rate = rng.gamma(0.5, 1 / 30.0)
            span = min(DAYS - (first - START).days, rng.exponential(260))
            n_orders = 1 + rng.poisson(rate * span)
            times = sorted(
                [first]
                + [first + timedelta(days=float(d)) for d in rng.random(n_orders - 1) * span]
            )
            on_web = rng.random() < 0.75
            anon = random_uuid(rng) if on_web else None
            mode = rng.choice(["user_id", "email", "never"], p=[0.5, 0.3, 0.2])
            if on_web:
                self.web_identity[anon] = str(cid)
                if mode != "never":
                    self.identified.add(str(cid))
            for k, when in enumerate(times):
                order_id += 1
                n_lines = 1 + int(rng.poisson(0.6))
                subtotal, qty_total = 0.0, 0
                for idx in range(n_lines):
                    line_id += 1
                    product = products[int(rng.integers(0, len(products)))]
                    qty = 1 + int(rng.poisson(0.3))
                    price = float(np.round(rng.gamma(3.0, 12.0), 2))
                    subtotal += qty * price
                    qty_total += qty
                    lines.append(
                        {
                            "order_id": order_id,
                            "id": line_id,
                            "product_id": product["id"],
                            "variant_id": product["id"] * 10,
                            "name": product["title"],
                            "title": product["title"],
                            "vendor": "Acme",
                            "price": price,
                            "quantity": qty,
                            "grams": 0,
                            "sku": f"SKU-{product['id']}",
                            "fulfillable_quantity": 0,
                            "fulfillment_service": "manual",
                            "gift_card": False,
                            "requires_shipping": True,
                            "taxable": True,
                            "index": idx + 1,
                            "total_discount": 0.0,
                            "pre_tax_price": None,
                            "fulfillment_status": "fulfilled",
                            "_fivetran_synced": when + timedelta(hours=3),
                        }
                    )
                cancelled = rng.random() < 0.04
                refunded = not cancelled and rng.random() < 0.05
                total = float(np.round(subtotal * 1.08, 2))
                ship_to = i
                if i % 50 == 7 and k == 0:  # a recipient with a phone, someone else
                    ship_to = 3 * (((i + 5) // 3) % (self.customers // 3))
                    self.gifts[order_id] = (str(cid), str(3_500_000_000_000 + ship_to))
                orders.append(
                    {
                        "id": order_id,
                        "note": None,
                        "email": email.upper() if k % 5 == 4 else email,
                        "taxes_included": False,
                        "currency": "USD",
                        "subtotal_price": float(np.round(subtotal, 2)),
                        "total_tax": float(np.round(subtotal * 0.08, 2)),
                        "total_price": total,
                        "created_at": when,
                        "updated_at": when + timedelta(minutes=5),
                        "name": f"#{order_id - 4_000_000_000}",
                        "shipping_address_name": f"First{ship_to} Last{ship_to}",
                        "shipping_address_phone": customer_phone(ship_to),
                        "billing_address_name": billing_name(i, k),
                        "shipping_address_country_code": "US",
                        "shipping_address_zip": f"94{i % 1000:03d}",
                        "billing_address_phone": None,
                        "customer_id": cid,
                        "location_id": None,
                        "user_id": None,
                        "number": order_id - 4_000_000_000,
                        "order_number": order_id - 4_000_000_000 + 1000,
                        "financial_status": "refunded" if refunded else "paid",
                        "fulfillment_status": "fulfilled",
                        "processed_at": when,
                        "processing_method": "direct",
                        "referring_site": None,
                        "cancel_reason": "customer" if cancelled else None,
                        "cancelled_at": when + timedelta(hours=1) if cancelled else None,
                        "closed_at": None,
                        "total_discounts": 0.0,
                        "total_line_items_price": float(np.round(subtotal, 2)),
                        "total_weight": 0,
                        "source_name": "web",
                        "browser_ip": "203.0.113.7",
                        "buyer_accepts_marketing": bool(i % 2),
                        "token": uuid.UUID(int=order_id).hex,
                        "cart_token": None,
                        "checkout_token": None,
                        "test": False,
                        "landing_site_base_url": None,
                        "_fivetran_synced": when + timedelta(hours=3),
                    }
                )
                if refunded:
                    refund_id += 1
                    refunds.append(
                        {
                            "id": refund_id,
                            "order_id": order_id,
                            "created_at": when + timedelta(days=6),
                            "processed_at": when + timedelta(days=6),
                            "note": "damaged",
                            "restock": True,
                            "user_id": None,
                            "total_duties_set": None,
                            "_fivetran_synced": when + timedelta(days=6, hours=1),
                        }
                    )
                    line_refunds.append(
                        {
                            "id": refund_id * 10,
                            "refund_id": refund_id,
                            "order_line_id": line_id,
                            "location_id": None,
                            "quantity": 1,
                            "subtotal": lines[-1]["price"],
                            "total_tax": 0.0,
                            "restock_type": "return",
                            "_fivetran_synced": when + timedelta(days=6, hours=1),
                        }
                    )
                if on_web:
                    session = when - timedelta(minutes=12)
                    pages.append(segment_call(rng, anon, session, user_id=None, path="/"))
                    product_id = str(lines[-1]["product_id"])
                    self._track(
                        rng,
                        tracks,
                        events,
                        "Product Viewed",
                        anon,
                        session,
                        {
                            "product_id": product_id,
                            "category": CATEGORIES[int(product_id) % 5],
                            "price": lines[-1]["price"],
                        },
                    )
                    self._track(
                        rng,
                        tracks,
                        events,
                        "Product Added",
                        anon,
                        session + timedelta(minutes=2),
                        {"product_id": product_id},
                    )
                    logged_in = mode == "user_id"
                    if k == 0 and mode != "never":
                        identifies.append(
                            segment_call(
                                rng,
                                anon,
                                session + timedelta(minutes=5),
                                user_id=str(cid) if logged_in else None,
                                traits={"email": customers[-1]["email"], "first_name": f"First{i}"},
                            )
                        )
                    self._track(
                        rng,
                        tracks,
                        events,
                        "Order Completed",
                        anon,
                        when + timedelta(seconds=30),
                        {"order_id": str(order_id), "revenue": total, "total": total},
                        user_id=str(cid) if logged_in else None,
                    )
            customers[-1]["orders_count"] = n_orders
        for v in range(self.anonymous_visitors):
            anon = random_uuid(rng)
            when = datetime_of(rng.integers(0, DAYS))
            pages.append(segment_call(rng, anon, when, user_id=None, path="/sale"))
            if v % 3 == 0:
                self._track(
                    rng,
                    tracks,
                    events,
                    "Product Viewed",
                    anon,
                    when + timedelta(minutes=1),
                    {"product_id": "7000001"},
                )
        # a test order Shopify's own tooling placed, and a delivery Segment made twice
        orders.append(dict(orders[0], id=order_id + 1, test=True, email="qa@shop.test"))
        tracks.append(dict(tracks[0]))
        self.frames = {
            "order": pd.DataFrame(orders),
            "order_line": pd.DataFrame(lines),
            "customer": pd.DataFrame(customers),
            "product": pd.DataFrame(products),
            "refund": pd.DataFrame(refunds),
            "order_line_refund": pd.DataFrame(line_refunds),
            "tracks": pd.DataFrame(tracks),
            "pages": pd.DataFrame(pages),
            "identifies": pd.DataFrame(identifies),
            **{name: pd.DataFrame(rows) for name, rows in events.items()},
        }
        self.frames["identifies"] = self.frames["identifies"].drop(
            columns=["phone"], errors="ignore"
        )
        return self

    def _track(self, rng, tracks, events, name, anon, when, properties, user_id=None):
        call = segment_call(rng, anon, when, user_id=user_id, event=name)
        tracks.append(call)
        events[name.lower().replace(" ", "_")].append(call | properties)

    def write_segment(self, con: duckdb.DuckDBPyConnection, schema: str = "website") -> None:
        con.execute(f"create schema if not exists {schema}")
        for name in (
            "tracks",
            "pages",
            "identifies",
            "order_completed",
            "product_viewed",
            "product_added",
        ):
            write(con, schema, name, self.frames[name], drop_empty_columns=True)

    def write_shopify(self, con: duckdb.DuckDBPyConnection, schema: str = "shopify") -> None:
        con.execute(f"create schema if not exists {schema}")
        for name in ("order", "order_line", "customer", "product", "refund", "order_line_refund"):
            write(con, schema, name, self.frames[name])


def customer_phone(i: int) -> str | None:
    """Every third customer has a phone (555-0100..0199 are fiction: identity drops them)."""
    return f"+1 (415) 555-{i:04d}" if i % 3 == 0 else None


def billing_name(i: int, k: int) -> str | None:
    """Customer i's name on their k-th order: now and then missing, or in other case and
    spacing than the shipping name."""
    if k % 7 == 5:
        return None
    return f" first{i} LAST{i}" if k % 4 == 3 else f"First{i} Last{i}"


def random_uuid(rng: np.random.Generator) -> str:
    return str(uuid.UUID(bytes=rng.bytes(16), version=4))


def datetime_of(day: float) -> datetime:
    return START + timedelta(days=float(day))


def segment_call(rng, anon, when, user_id=None, event=None, path=None, traits=None) -> dict:
    """One call as Segment's warehouse loader flattens it (analytics.js context)."""
    sent = when + timedelta(milliseconds=int(rng.integers(20, 900)))
    received = sent + timedelta(milliseconds=int(rng.integers(50, 2000)))
    call = {
        "id": random_uuid(rng),
        "anonymous_id": anon,
        "user_id": user_id,
        "context_ip": "203.0.113.7",
        "context_library_name": "analytics.js",
        "context_library_version": "5.2.0",
        "context_page_path": path or "/products",
        "context_page_referrer": "https://www.google.com/",
        "context_page_title": "Shop",
        "context_page_url": f"https://shop.example.com{path or '/products'}?utm_source=google",
        "context_user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
        "context_campaign_source": "google",
        "context_campaign_medium": "cpc",
        "context_campaign_name": "spring",
        "original_timestamp": when,
        "sent_at": sent,
        "received_at": received,
        "timestamp": when,
        "uuid_ts": received + timedelta(minutes=40),
    }
    if event is not None:
        call |= {"event": event.lower().replace(" ", "_"), "event_text": event}
    if path is not None:
        call |= {
            "path": path,
            "url": f"https://shop.example.com{path}",
            "title": "Shop",
            "referrer": "https://www.google.com/",
            "name": None,
        }
    if traits is not None:
        call |= traits
    return call


def write(
    con: duckdb.DuckDBPyConnection,
    schema: str,
    name: str,
    frame: pd.DataFrame,
    drop_empty_columns: bool = False,
) -> None:
    """Create schema.name from frame. drop_empty_columns: like Segment's loader, a column that
    never held a value is not created (Fivetran creates every column of the API's schema)."""
    if drop_empty_columns:
        frame = frame.dropna(axis="columns", how="all")
    con.register("incoming_frame", frame)
    try:
        con.execute(f'create or replace table {schema}."{name}" as select * from incoming_frame')
    finally:
        con.unregister("incoming_frame")


def hubspot_contacts(world: ShopWorld) -> pd.DataFrame:
    """HubSpot contacts as Fivetran lands them: a third of the shop's customers, by email (one
    duplicate contact, one deleted)."""
    rows = []
    for i, customer in enumerate(world.frames["customer"].itertuples()):
        if i % 3:
            continue
        rows.append(
            {
                "id": 51_000 + i,
                "_fivetran_deleted": False,
                "_fivetran_synced": customer.created_at + timedelta(days=1),
                "property_email": customer.email.strip(),
                "property_firstname": customer.first_name,
                "property_lastname": customer.last_name,
                "property_company": "Example Inc",
                "property_phone": None,
                "property_mobilephone": customer.phone,
                "property_createdate": customer.created_at,
                "property_lastmodifieddate": customer.created_at + timedelta(hours=1),
                "property_hs_analytics_source": "ORGANIC_SEARCH",
                "property_hs_merged_object_ids": None,
            }
        )
    rows.append(dict(rows[0], id=99_001))  # the same person entered twice
    rows.append(dict(rows[1], id=99_002, _fivetran_deleted=True))
    return pd.DataFrame(rows)
