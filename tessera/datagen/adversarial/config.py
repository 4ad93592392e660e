"""Rates of every kind of real-world mess the adversarial mode injects, in one dataclass.

Each rate is a probability per the unit named in its comment (a person, a household, a
record ...). Every class of the catalogue can be switched off by setting its rate to 0, so a
test or a benchmark can isolate one cause. The defaults are deliberately harsher than most
companies' data, but each value is the order of magnitude real CDP deployments report.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass


@dataclass(frozen=True)
class AdversarialConfig:
    # --- population -------------------------------------------------------------------
    registered_share: float = 0.55  # persons with a shop account (user_id)
    anonymous_only_share: float = 0.18  # persons who never identify anywhere
    crm_share: float = 0.30  # persons with a CRM contact
    crm_duplicate_share: float = 0.20  # of CRM persons: a second contact record
    loyalty_share: float = 0.35  # persons with their own loyalty card
    store_shopper_share: float = 0.45  # persons who buy in stores
    app_share: float = 0.45  # persons with the mobile app
    new_phone_share: float = 0.25  # persons whose app device is replaced once
    work_email_share: float = 0.15  # persons with a work email besides a personal one
    changed_email_share: float = 0.10  # persons who move to a new personal address
    phone_share: float = 0.75  # persons with a mobile phone
    changed_phone_share: float = 0.12  # persons who change number (old one may be recycled)
    expat_share: float = 0.04  # persons whose phone is from another country than they live in

    # --- households and shared, public devices ------------------------------------------
    household_landline_share: float = 0.35  # households of 2+ with a shared landline
    household_tablet_share: float = 0.25  # households of 2+ with a shared tablet (app)
    household_email_share: float = 0.15  # households of 2+ with a family email
    kiosks_per_store: float = 0.5  # in-store kiosks (one device + app install each)
    kiosk_use_share: float = 0.05  # of store shoppers: sign up at a kiosk
    public_pcs_per_10k_persons: float = 6.0  # library / hotel / office PCs (one web cookie)
    public_pc_use_share: float = 0.02  # of registered persons: log in on a public PC

    # --- placeholders and junk no list has ---------------------------------------------
    ad_macro_campaign_share: float = 0.12  # campaigns whose tag leaves the device id macro
    lat_device_share: float = 0.20  # app devices sending an OS placeholder id (LAT, MAC)
    sdk_macro_device_share: float = 0.03  # app devices whose SDK sends an unrendered macro
    junk_email_share: float = 0.06  # email fields typed as junk (checkout, POS, CRM, forms)
    junk_phone_share: float = 0.05  # phone fields typed as junk
    store_phone_share: float = 0.08  # POS phone: the store's own number typed instead
    house_card_share: float = 0.06  # POS without a card: the store's house card scanned
    user_id_junk_share: float = 0.02  # logged-out sessions whose front end sends a junk user id

    # --- records that carry two persons' identifiers ------------------------------------
    gift_order_share: float = 0.03  # orders shipped with the recipient's phone / email
    partner_card_share: float = 0.03  # POS: a household member's card, own e-receipt email
    same_name_email_share: float = 0.01  # POS: cashier picks a same-name customer's email
    recycled_phone_share: float = 0.5  # of changed numbers: given to another person later

    # --- typing and formats --------------------------------------------------------------
    email_typo_share: float = 0.02  # email fields with a typo
    phone_typo_share: float = 0.02  # phone fields with a typo
    mailbox_variant_share: float = 0.25  # gmail / outlook persons using dots, +tags, aliases
    case_whitespace_share: float = 0.15  # identifiers with case or whitespace mess
    national_format_share: float = 0.6  # non-US phones written in national format
    extension_share: float = 0.04  # persons whose phone carries an extension (work line)
    switchboard_share: float = 0.4  # of extension lines: a company number colleagues share

    # --- bots --------------------------------------------------------------------------
    bots_per_10k_persons: float = 4.0  # bot cookies with thousands of events
    bot_form_emails: int = 60  # emails each bot types into forms (mean)
    bot_real_email_share: float = 0.3  # of those: real persons' addresses (leaked lists)

    # --- time ----------------------------------------------------------------------------
    late_share: float = 0.04  # records of every source loaded days after they happened
    max_late_days: int = 12
    future_days: int = 60  # simulated beyond end_date, delivered by later loads (appends)

    # --- volume --------------------------------------------------------------------------
    sessions_per_month: float = 0.6  # mean sessions per active person-month
    events_per_session: float = 3.0
    order_per_session: float = 0.07
    pos_per_month: float = 0.6  # in-store purchases per active store-shopper month

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name.endswith("_share") and not 0.0 <= value <= 1.0:
                raise ValueError(f"{field.name} must be in [0, 1], got {value}")
            if isinstance(value, int | float) and value < 0:
                raise ValueError(f"{field.name} must not be negative, got {value}")

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> AdversarialConfig:
        return cls(**json.loads(text))
