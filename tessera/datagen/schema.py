"""The raw tables the demo generator writes, and that real users point Tessera at.

This is the contract between `tessera.datagen` (writer) and `dbt_project/models/sources.yml`
(reader). Column order here is the column order written. Types are DuckDB types; the
Snowflake loader maps them (VARCHAR -> TEXT, TIMESTAMP -> TIMESTAMP_NTZ, DOUBLE -> FLOAT).

Raw values are deliberately messy (see `tessera.datagen.mess`): emails padded and
mixed-case, phones in many formats, placeholder ids. Staging normalises; raw keeps them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RawTable:
    name: str
    description: str
    columns: tuple[tuple[str, str, str], ...]  # (name, duckdb type, description)
    loaded_at_field: str

    @property
    def column_names(self) -> list[str]:
        return [c[0] for c in self.columns]

    def ddl(self, schema: str = "raw") -> str:
        cols = ", ".join(f"{name} {type_}" for name, type_, _ in self.columns)
        return f"create table if not exists {schema}.{self.name} ({cols})"


EVENTS = RawTable(
    name="events",
    description=(
        "Web and app events in the Segment spec (track, page, identify), flattened the way "
        "Segment's warehouse destination flattens context and properties."
    ),
    loaded_at_field="received_at",
    columns=(
        ("message_id", "VARCHAR", "Unique id of the message (Segment messageId)."),
        ("type", "VARCHAR", "Segment call type: track, page or identify."),
        (
            "event",
            "VARCHAR",
            "Track event name (Product Viewed, Product Added, Checkout "
            "Started, Order Completed, Signed Up ...); null for page and identify.",
        ),
        ("anonymous_id", "VARCHAR", "Cookie / app-install id; may be a placeholder."),
        ("user_id", "VARCHAR", "Logged-in user id; null when anonymous."),
        ("device_id", "VARCHAR", "Device id (context.device.id); web events carry none."),
        ("timestamp", "TIMESTAMP", "When the event happened on the client (UTC)."),
        ("received_at", "TIMESTAMP", "When the collector received it; late arrivals lag."),
        ("context_channel", "VARCHAR", "web, ios or android."),
        ("context_page_url", "VARCHAR", "Full page URL including query string."),
        ("context_page_path", "VARCHAR", "Page path."),
        ("context_page_referrer", "VARCHAR", "Referrer URL."),
        ("context_campaign_source", "VARCHAR", "utm_source."),
        ("context_campaign_medium", "VARCHAR", "utm_medium."),
        ("context_campaign_name", "VARCHAR", "utm_campaign."),
        ("context_user_agent", "VARCHAR", "User agent string."),
        ("context_ip", "VARCHAR", "Client IP address."),
        ("traits_email", "VARCHAR", "identify: email trait, raw."),
        ("traits_phone", "VARCHAR", "identify: phone trait, raw."),
        ("traits_first_name", "VARCHAR", "identify: first name trait."),
        ("traits_last_name", "VARCHAR", "identify: last name trait."),
        ("properties_product_id", "VARCHAR", "track: product id."),
        ("properties_category", "VARCHAR", "track: product category."),
        ("properties_price", "DOUBLE", "track: product price."),
        ("properties_order_id", "VARCHAR", "Order Completed: order id."),
        ("properties_revenue", "DOUBLE", "Order Completed: order revenue."),
    ),
)

ORDERS = RawTable(
    name="orders",
    description="E-commerce orders from the shop platform, one row per order.",
    loaded_at_field="updated_at",
    columns=(
        ("order_id", "VARCHAR", "Order id."),
        ("customer_email", "VARCHAR", "Checkout email, raw."),
        ("customer_phone", "VARCHAR", "Checkout phone, raw; often missing."),
        ("user_id", "VARCHAR", "Shop account user id; null for guest checkout."),
        ("anonymous_id", "VARCHAR", "Web anonymous id of the checkout session."),
        ("ordered_at", "TIMESTAMP", "When the order was placed."),
        ("status", "VARCHAR", "completed, cancelled or refunded."),
        ("currency", "VARCHAR", "ISO currency code."),
        ("subtotal", "DOUBLE", "Sum of line amounts."),
        ("discount", "DOUBLE", "Discount applied."),
        ("shipping", "DOUBLE", "Shipping charged."),
        ("total", "DOUBLE", "Amount paid."),
        ("item_count", "INTEGER", "Number of items."),
        ("shipping_country", "VARCHAR", "ISO country code of the shipping address."),
        ("shipping_zip", "VARCHAR", "Postal code."),
        ("updated_at", "TIMESTAMP", "Last update of the order row."),
    ),
)

ORDER_ITEMS = RawTable(
    name="order_items",
    description="Order lines.",
    loaded_at_field="ordered_at",
    columns=(
        ("order_id", "VARCHAR", "Order id."),
        ("line_number", "INTEGER", "Line number within the order, from 1."),
        ("product_id", "VARCHAR", "Product id."),
        ("category", "VARCHAR", "Product category."),
        ("quantity", "INTEGER", "Units."),
        ("unit_price", "DOUBLE", "Price per unit."),
        ("ordered_at", "TIMESTAMP", "When the order was placed (denormalised for loading)."),
    ),
)

RETURNS = RawTable(
    name="returns",
    description="Returns against e-commerce orders.",
    loaded_at_field="returned_at",
    columns=(
        ("return_id", "VARCHAR", "Return id."),
        ("order_id", "VARCHAR", "Order returned."),
        ("returned_at", "TIMESTAMP", "When the return was received."),
        ("amount", "DOUBLE", "Refunded amount."),
        ("reason", "VARCHAR", "damaged, wrong_size, not_as_described, changed_mind."),
    ),
)

CRM_CONTACTS = RawTable(
    name="crm_contacts",
    description="Contacts exported from the CRM, one row per contact record (duplicates exist).",
    loaded_at_field="updated_at",
    columns=(
        ("contact_id", "VARCHAR", "CRM contact id (the crm_id identifier)."),
        ("email", "VARCHAR", "Email, raw."),
        ("phone", "VARCHAR", "Phone, raw."),
        ("first_name", "VARCHAR", "First name as typed by sales."),
        ("last_name", "VARCHAR", "Last name."),
        ("company", "VARCHAR", "Company."),
        ("external_user_id", "VARCHAR", "Shop user id when sales linked it; often null."),
        ("lead_source", "VARCHAR", "web, event, referral, partner, import."),
        ("is_email_verified", "BOOLEAN", "Whether the CRM verified the email."),
        ("created_at", "TIMESTAMP", "Record creation."),
        ("updated_at", "TIMESTAMP", "Last update."),
    ),
)

EMAIL_EVENTS = RawTable(
    name="email_events",
    description="Email engagement from the ESP.",
    loaded_at_field="occurred_at",
    columns=(
        ("event_id", "VARCHAR", "ESP event id."),
        ("email", "VARCHAR", "Recipient email as the ESP stores it."),
        ("campaign_id", "VARCHAR", "Campaign id."),
        ("event_type", "VARCHAR", "sent, open, click, unsubscribe or bounce."),
        ("occurred_at", "TIMESTAMP", "When it happened."),
        ("url", "VARCHAR", "Clicked URL (click only)."),
    ),
)

AD_CLICKS = RawTable(
    name="ad_clicks",
    description="Ad clicks joined to the landing session's anonymous id by the tag.",
    loaded_at_field="clicked_at",
    columns=(
        ("click_id", "VARCHAR", "gclid / fbclid / ttclid."),
        ("platform", "VARCHAR", "google, meta or tiktok."),
        ("campaign_id", "VARCHAR", "Campaign id."),
        ("campaign_name", "VARCHAR", "Campaign name."),
        ("ad_group", "VARCHAR", "Ad group / ad set."),
        ("anonymous_id", "VARCHAR", "Anonymous id of the landing session; may be a placeholder."),
        ("device_id", "VARCHAR", "Mobile device id for app-install campaigns."),
        ("clicked_at", "TIMESTAMP", "Click time."),
        ("cost", "DOUBLE", "Cost of the click."),
        ("landing_url", "VARCHAR", "Landing page URL with click id and UTM parameters."),
    ),
)

SUPPORT_TICKETS = RawTable(
    name="support_tickets",
    description="Support tickets from the helpdesk.",
    loaded_at_field="updated_at",
    columns=(
        ("ticket_id", "VARCHAR", "Ticket id."),
        ("requester_email", "VARCHAR", "Requester email, raw."),
        ("requester_phone", "VARCHAR", "Requester phone, raw (phone tickets)."),
        ("channel", "VARCHAR", "email, chat or phone."),
        ("subject", "VARCHAR", "Subject line."),
        ("status", "VARCHAR", "open, pending or solved."),
        ("priority", "VARCHAR", "low, normal, high or urgent."),
        ("sentiment", "VARCHAR", "positive, neutral or negative (helpdesk NLP)."),
        ("created_at", "TIMESTAMP", "Opened."),
        ("updated_at", "TIMESTAMP", "Last update."),
    ),
)

POS_PURCHASES = RawTable(
    name="pos_purchases",
    description="In-store purchases from the point-of-sale system.",
    loaded_at_field="purchased_at",
    columns=(
        ("transaction_id", "VARCHAR", "POS transaction id."),
        ("store_id", "VARCHAR", "Store id."),
        ("loyalty_id", "VARCHAR", "Loyalty card number; null when no card was shown."),
        ("phone", "VARCHAR", "Phone typed at the till, raw."),
        ("email", "VARCHAR", "E-receipt email, raw."),
        ("purchased_at", "TIMESTAMP", "Purchase time."),
        ("total", "DOUBLE", "Amount paid."),
        ("item_count", "INTEGER", "Items."),
        ("category", "VARCHAR", "Main category of the basket."),
        ("payment_method", "VARCHAR", "card, cash or wallet."),
    ),
)

CONSENTS = RawTable(
    name="consents",
    description="Consent records from the consent-management platform; latest per purpose wins.",
    loaded_at_field="recorded_at",
    columns=(
        ("consent_id", "VARCHAR", "Record id."),
        ("subject_type", "VARCHAR", "Identifier type of the subject: email, user_id or phone."),
        ("subject_id", "VARCHAR", "Identifier value, raw."),
        ("purpose", "VARCHAR", "email, sms, ads or analytics."),
        ("status", "VARCHAR", "granted or revoked."),
        ("recorded_at", "TIMESTAMP", "When the choice was made."),
        ("source", "VARCHAR", "banner, preference_center, checkout, store or import."),
    ),
)

RAW_TABLES: tuple[RawTable, ...] = (
    EVENTS,
    ORDERS,
    ORDER_ITEMS,
    RETURNS,
    CRM_CONTACTS,
    EMAIL_EVENTS,
    AD_CLICKS,
    SUPPORT_TICKETS,
    POS_PURCHASES,
    CONSENTS,
)

TRUTH_IDENTIFIER_PERSON = RawTable(
    name="identifier_person",
    description=(
        "Ground truth written by the generator for tests and benchmarks only; no model reads "
        "it. One row per (id_type, normalised id_value, person_key). A shared device appears "
        "once per person who used it. Placeholder values are not listed."
    ),
    loaded_at_field="",
    columns=(
        (
            "id_type",
            "VARCHAR",
            "email, phone, anonymous_id, device_id, user_id, crm_id, loyalty_id.",
        ),
        ("id_value", "VARCHAR", "Normalised value: email trimmed and lower-cased, phone E.164."),
        ("person_key", "BIGINT", "The hidden person the identifier belongs to."),
    ),
)

TRUTH_IDENTIFIER_EVIDENCE = RawTable(
    name="identifier_evidence",
    description=(
        "Ground truth of what the data can prove, for scoring identity resolution. An "
        "identifier of exactly one person is listed when some raw record carries it together "
        "with another identifier of that person (an identify call with user_id and "
        "anonymous_id, an order with email and phone ...); placeholders and identifiers "
        "shared by several persons (a household tablet) carry no evidence. Records chain: "
        "identifiers of one person connected through such records form an evidence group, "
        "and each row names one member of its group (linked_id_type, linked_id_value). The "
        "groups are the connected components of these rows taken as edges (an append can "
        "join groups of an earlier run). An identifier absent here never appears with "
        "another of its person's identifiers: no resolver can link it."
    ),
    loaded_at_field="",
    columns=(
        ("id_type", "VARCHAR", "Identifier type, as in truth.identifier_person."),
        ("id_value", "VARCHAR", "Normalised value, as in truth.identifier_person."),
        ("person_key", "BIGINT", "The hidden person both identifiers belong to."),
        ("linked_id_type", "VARCHAR", "Type of an identifier in the same evidence group."),
        ("linked_id_value", "VARCHAR", "Its normalised value."),
    ),
)

TRUTH_PERSONS = RawTable(
    name="persons",
    description="Ground truth per hidden person: latent traits used to drive behaviour.",
    loaded_at_field="",
    columns=(
        ("person_key", "BIGINT", "Hidden person."),
        ("household_key", "BIGINT", "Household (persons in one household share a device)."),
        ("country", "VARCHAR", "Country code."),
        ("propensity", "DOUBLE", "Latent purchase propensity in [0, 1]."),
        ("is_registered", "BOOLEAN", "Has a shop account (user_id)."),
        ("churned_at", "TIMESTAMP", "When the person stopped engaging; null if active."),
    ),
)

ID_TYPES: tuple[str, ...] = (
    "user_id",
    "crm_id",
    "email",
    "phone",
    "loyalty_id",
    "device_id",
    "anonymous_id",
)
