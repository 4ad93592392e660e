"""Objects every chunk shares: stores (with their own phone and house card), kiosks, public
PCs, ad campaigns (some with a broken tag), and the junk catalogues.

Built from their own random stream of the seed, so every chunk (and every later load) sees
the same stores and campaigns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from tessera.datagen import strings as s
from tessera.datagen.adversarial import catalogue, phones, world
from tessera.datagen.adversarial.config import AdversarialConfig
from tessera.datagen.adversarial.people import STORE
from tessera.datagen.normalise import normalise_email, normalise_phone

_SHARED_STREAM = 0x5EED_AD5E


@dataclass
class Shared:
    store_country: np.ndarray
    store_id: pa.Array
    store_phone_raw: pa.Array  # as a cashier types it: the store's national format
    store_phone: pa.Array  # E.164
    store_habit: np.ndarray  # this store's cashiers type the store phone for members
    store_weekly: np.ndarray  # this store's till exports once a week instead of nightly
    house_card: pa.Array
    kiosk_store: np.ndarray
    kiosk_device: pa.Array
    kiosk_anon: pa.Array
    public_pc: pa.Array  # one web cookie per public PC
    campaign_platform: pa.Array
    campaign_id: pa.Array
    campaign_name: pa.Array
    campaign_macro: pa.Array  # the unrendered macro a broken tag leaves; null if fine
    junk_email_raw: pa.Array
    junk_email: pa.Array
    junk_phone_raw: pa.Array
    junk_phone: pa.Array  # E.164 where the junk still reads as a number, else null

    @property
    def n_stores(self) -> int:
        return len(self.store_id)


def build_shared(seed: int, total_persons: int, config: AdversarialConfig) -> Shared:
    rng = np.random.default_rng([seed, _SHARED_STREAM])
    store_country = np.repeat(np.arange(len(world.COUNTRIES)), world.STORES_PER_COUNTRY)
    n_stores = len(store_country)
    numbers = np.arange(n_stores)
    store_id = s.concat(
        "KC-", s.pick(world.COUNTRY_CODES, store_country), "-", s.padded_ints(numbers + 1, 3)
    )
    nsn = phones.national_numbers(store_country, numbers * 8 + STORE, landline=True)
    # cashiers write their own store's number the national way (no country on POS rows)
    raw, _ = phones.render(rng, store_country, nsn, store_country, national_share=1.0)
    house_card = s.concat("27", s.padded_ints(rng.integers(10**9, 10**11, n_stores), 11))

    n_kiosks = max(1, round(n_stores * config.kiosks_per_store))
    n_pcs = max(1, round(total_persons * config.public_pcs_per_10k_persons / 10_000))
    platforms = rng.integers(0, len(world.CAMPAIGN_PLATFORMS), 80)
    broken = rng.random(80) < config.ad_macro_campaign_share
    macros = s.pick(catalogue.AD_MACROS, rng.integers(0, len(catalogue.AD_MACROS), 80))

    junk_emails = catalogue.junk_emails(world.BRAND_DOMAINS)
    junk_phones = catalogue.junk_phones()
    return Shared(
        store_country=store_country,
        store_id=store_id,
        store_phone_raw=raw,
        store_phone=phones.e164(store_country, nsn),
        store_habit=rng.random(n_stores) < 0.3,
        store_weekly=rng.random(n_stores) < 0.2,
        house_card=house_card,
        kiosk_store=rng.integers(0, n_stores, n_kiosks),
        kiosk_device=s.uuid_strings(rng, n_kiosks, upper=True),
        kiosk_anon=s.uuid_strings(rng, n_kiosks),
        public_pc=s.uuid_strings(rng, n_pcs),
        campaign_platform=s.pick(world.CAMPAIGN_PLATFORMS, platforms),
        campaign_id=s.ints(rng.integers(10**9, 10**10, 80)),
        campaign_name=s.concat(
            s.pick(
                ("spring", "summer", "fall", "holiday", "evergreen", "retarget"), numbers_of(80) % 6
            ),
            "_",
            s.pick(world.CATEGORIES, numbers_of(80) % len(world.CATEGORIES)),
            "_",
            s.pick(("prospecting", "app_install", "remarketing", "brand"), numbers_of(80) % 4),
        ),
        campaign_macro=s.null_where(~broken, macros),
        junk_email_raw=pa.array(junk_emails, pa.string()),
        junk_email=pa.array([normalise_email(v) for v in junk_emails], pa.string()),
        junk_phone_raw=pa.array(junk_phones, pa.string()),
        junk_phone=pa.array([normalise_phone(v) for v in junk_phones], pa.string()),
    )


def numbers_of(n: int) -> np.ndarray:
    return np.arange(n, dtype=np.int64)
