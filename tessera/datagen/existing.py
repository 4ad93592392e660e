"""Rebuild a Population for persons already in the warehouse, from the ground truth.

Used by `append_activity`: later activity must reuse the identifiers a person already has
(emails, phones, user id, loyalty id, devices and anonymous ids), so identity resolution
sees the same people come back. App devices keep the anonymous id they were seen with
in raw.events; a household tablet stays shared between the persons who used it.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tessera.datagen import reference as ref
from tessera.datagen import strings as s
from tessera.datagen.population import (
    ANDROID_APP,
    DESKTOP,
    IOS_APP,
    SHARED_TABLET,
    Devices,
    Phones,
    Population,
    Ragged,
    _names,
)
from tessera.warehouse import Session


def load_existing(
    session: Session,
    rng: np.random.Generator,
    seed: int,
    keys: np.ndarray,
    start_us: int,
    end_us: int,
) -> Population:
    keys = np.asarray(keys, dtype=np.int64)
    n = len(keys)
    wanted = pa.table({"person_key": pa.array(keys, pa.int64())})
    cur = session.conn.cursor()
    cur.register("_tessera_append_keys", wanted)
    try:
        persons = cur.sql(
            "select p.person_key, p.household_key, p.country, p.propensity, p.is_registered, "
            "epoch_us(p.churned_at) as churned_us from truth.persons p "
            "join _tessera_append_keys k using (person_key) order by p.person_key"
        ).to_arrow_table()
        ids = cur.sql(
            "select i.person_key, i.id_type, i.id_value from truth.identifier_person i "
            "join _tessera_append_keys k using (person_key) order by i.person_key, i.id_type, "
            "i.id_value"
        ).to_arrow_table()
        # Which anonymous id each app device was seen with, and on which channel.
        pairs = cur.sql(
            "with devices as (select i.person_key, i.id_value as device_id "
            "from truth.identifier_person i join _tessera_append_keys k using (person_key) "
            "where i.id_type = 'device_id') "
            "select d.person_key, d.device_id, min(e.anonymous_id) as anonymous_id, "
            "min(e.context_channel) as channel, min(e.context_user_agent) as user_agent, "
            "count(distinct d2.person_key) as users "
            "from devices d join raw.events e on e.device_id = d.device_id "
            "join truth.identifier_person a on a.id_type = 'anonymous_id' "
            "and a.id_value = e.anonymous_id and a.person_key = d.person_key "
            "join truth.identifier_person d2 on d2.id_type = 'device_id' "
            "and d2.id_value = d.device_id "
            "group by d.person_key, d.device_id order by d.person_key, d.device_id"
        ).to_arrow_table()
    finally:
        cur.unregister("_tessera_append_keys")
        cur.close()
    if persons.num_rows != n:
        raise RuntimeError("truth.persons is missing persons listed for the append")

    index_of = {int(k): i for i, k in enumerate(keys)}
    country_codes = persons.column("country").to_pylist()
    country = np.array([ref.COUNTRIES.index(c) for c in country_codes], dtype=np.int64)
    propensity = persons.column("propensity").to_numpy()
    churned_us = persons.column("churned_us").to_numpy(zero_copy_only=False)
    churned = ~np.isnan(churned_us.astype(np.float64))
    churned_at = np.where(churned, np.nan_to_num(churned_us.astype(np.float64)), 0).astype(np.int64)

    id_person = np.array(
        [index_of[int(k)] for k in ids.column("person_key").to_numpy()], dtype=np.int64
    )
    id_type = np.asarray(ids.column("id_type").to_numpy(zero_copy_only=False))
    id_value = ids.column("id_value").combine_chunks()

    def of_type(name: str) -> tuple[np.ndarray, pa.Array]:
        rows = np.flatnonzero(id_type == name)
        return id_person[rows], s.take(id_value, rows)

    def one_per_person(name: str) -> pa.Array:
        owner, values = of_type(name)
        first = np.full(n, -1)
        first[owner[::-1]] = np.arange(len(owner))[::-1]
        return s.take_valid(values, first, first >= 0)

    email_owner, email_values = of_type("email")
    phone_owner, phone_values = of_type("phone")
    user_id = one_per_person("user_id")
    loyalty_id = one_per_person("loyalty_id")
    registered = ~np.asarray(user_id.is_null(), dtype=bool)
    has_loyalty = ~np.asarray(loyalty_id.is_null(), dtype=bool)
    has_crm = np.isin(np.arange(n), of_type("crm_id")[0])
    known = (
        registered
        | has_loyalty
        | has_crm
        | np.isin(np.arange(n), np.concatenate([email_owner, phone_owner]))
    )

    first_name, last_name = _names(seed, keys, country)
    start = np.full(n, start_us, dtype=np.int64)
    activity = rng.lognormal(0.0, 0.8, n) * (0.5 + 1.5 * propensity)
    return Population(
        keys=keys,
        household=persons.column("household_key").to_numpy(),
        country=country,
        propensity=propensity,
        activity=np.where(known, activity, activity * 0.5),
        amplitude=rng.uniform(0.2, 0.9, n),
        period_days=rng.uniform(45.0, 200.0, n),
        phase=rng.uniform(0.0, 2 * np.pi, n),
        anonymous_only=~known,
        registered=registered,
        in_crm=has_crm,
        has_loyalty=has_loyalty,
        first_seen=start,
        registered_at=start,
        churned=churned,
        churned_at=churned_at,
        active_end=np.where(churned, np.minimum(churned_at, end_us), end_us),
        favourite_category=rng.integers(0, len(ref.CATEGORIES), n),
        first_name=first_name,
        last_name=last_name,
        user_id=user_id,
        loyalty_id=loyalty_id,
        home_ip=_home_ips(persons.column("household_key").to_numpy()),
        emails=Ragged.from_owner(email_owner, n),
        email_values=email_values,
        phones=_phones(phone_owner, phone_values, n),
        devices=_devices(rng, n, index_of, of_type("anonymous_id"), pairs),
        is_new=np.zeros(n, dtype=bool),
    )


def _phones(owner: np.ndarray, e164: pa.Array, n: int) -> Phones:
    digits = pc.utf8_slice_codeunits(e164, 1, 64)
    calling_code = np.where(
        np.asarray(pc.starts_with(digits, "1"), dtype=bool),
        1,
        np.where(np.asarray(pc.starts_with(digits, "44"), dtype=bool), 44, 49),
    )
    national = s.where(
        calling_code == 1,
        pc.utf8_slice_codeunits(digits, 1, 64),
        pc.utf8_slice_codeunits(digits, 2, 64),
    )
    return Phones(Ragged.from_owner(owner, n), calling_code, national, e164)


def _devices(
    rng: np.random.Generator,
    n: int,
    index_of: dict[int, int],
    anonymous: tuple[np.ndarray, pa.Array],
    pairs: pa.Table,
) -> Devices:
    """App slots from the device/anonymous id pairs; one web slot holding all other ids."""
    anon_owner, anon_values = anonymous
    app_owner = np.array(
        [index_of[int(k)] for k in pairs.column("person_key").to_numpy()], dtype=np.int64
    )
    channel = np.asarray(pairs.column("channel").to_numpy(zero_copy_only=False))
    users = pairs.column("users").to_numpy()
    app_kind = np.where(
        users > 1, SHARED_TABLET, np.where(channel == "android", ANDROID_APP, IOS_APP)
    )
    app_anon = pairs.column("anonymous_id").combine_chunks()
    on_app = (
        np.asarray(pc.is_in(anon_values, value_set=app_anon), dtype=bool)
        if len(app_anon)
        else np.zeros(len(anon_values), dtype=bool)
    )
    web_rows = np.flatnonzero(~on_app)
    web_owner = anon_owner[web_rows]
    # Everyone keeps one web slot; persons without web cookies (or clearing them) get a new one.
    fresh_owner = np.setdiff1d(np.arange(n), web_owner)
    fresh_owner = np.union1d(fresh_owner, np.flatnonzero(rng.random(n) < 0.1))
    cookie_owner = np.concatenate([web_owner, fresh_owner])
    cookie_values = pa.concat_arrays(
        [s.take(anon_values, web_rows), s.uuid_strings(rng, len(fresh_owner))]
    )
    order = np.argsort(cookie_owner, kind="stable")
    cookie_owner = cookie_owner[order]
    cookie_values = s.take(cookie_values, order)
    cookie_count = np.bincount(cookie_owner, minlength=n)
    cookie_first = s.starts(cookie_count)

    desktop = rng.random(n) < 0.6
    web_ua = s.where(
        desktop,
        s.pick(ref.USER_AGENTS["desktop"], rng.integers(0, len(ref.USER_AGENTS["desktop"]), n)),
        s.pick(ref.USER_AGENTS["mobile"], rng.integers(0, len(ref.USER_AGENTS["mobile"]), n)),
    )
    n_app = len(app_owner)
    owner = np.concatenate([np.arange(n), app_owner])
    kind = np.concatenate([np.where(desktop, DESKTOP, 1), app_kind])
    device_id = pa.concat_arrays([s.nulls(n), pairs.column("device_id").combine_chunks()])
    user_agent = pa.concat_arrays([web_ua, pairs.column("user_agent").combine_chunks()])
    all_cookie_first = np.concatenate([cookie_first, len(cookie_values) + np.arange(n_app)])
    all_cookie_count = np.concatenate([cookie_count, np.ones(n_app, dtype=np.int64)])
    anonymous_ids = pa.concat_arrays([cookie_values, app_anon])

    order = np.argsort(owner, kind="stable")
    return Devices(
        slots=Ragged.from_owner(owner[order], n),
        kind=kind[order],
        device_id=s.take(device_id, order),
        user_agent=s.take(user_agent, order),
        cookie_first=all_cookie_first[order],
        cookie_count=all_cookie_count[order],
        anonymous_ids=anonymous_ids,
    )


def _home_ips(household: np.ndarray) -> pa.Array:
    h = np.asarray(household, dtype=np.int64)
    return s.concat(
        s.ints(24 + h % 150),
        ".",
        s.ints(h // 7 % 254 + 1),
        ".",
        s.ints(h // 3 % 254 + 1),
        ".",
        s.ints(h % 253 + 1),
    )


def concat_populations(a: Population, b: Population) -> Population:
    """Stack two populations (existing persons, then new ones) into one."""
    n_a = a.n
    values = {}
    for name in Population.__dataclass_fields__:
        x, y = getattr(a, name), getattr(b, name)
        if isinstance(x, pa.Array):
            values[name] = pa.concat_arrays([x, y.cast(x.type)])
        elif isinstance(x, np.ndarray):
            values[name] = np.concatenate([x, y])
    values["emails"] = _concat_ragged(a.emails, b.emails, n_a)
    values["email_values"] = pa.concat_arrays([a.email_values, b.email_values])
    values["phones"] = Phones(
        _concat_ragged(a.phones.items, b.phones.items, n_a),
        np.concatenate([a.phones.calling_code, b.phones.calling_code]),
        pa.concat_arrays([a.phones.national, b.phones.national]),
        pa.concat_arrays([a.phones.e164, b.phones.e164]),
    )
    n_cookies_a = len(a.devices.anonymous_ids)
    values["devices"] = Devices(
        slots=_concat_ragged(a.devices.slots, b.devices.slots, n_a),
        kind=np.concatenate([a.devices.kind, b.devices.kind]),
        device_id=pa.concat_arrays([a.devices.device_id, b.devices.device_id]),
        user_agent=pa.concat_arrays([a.devices.user_agent, b.devices.user_agent]),
        cookie_first=np.concatenate([a.devices.cookie_first, b.devices.cookie_first + n_cookies_a]),
        cookie_count=np.concatenate([a.devices.cookie_count, b.devices.cookie_count]),
        anonymous_ids=pa.concat_arrays([a.devices.anonymous_ids, b.devices.anonymous_ids]),
    )
    return Population(**values)


def _concat_ragged(a: Ragged, b: Ragged, n_a: int) -> Ragged:
    return Ragged.from_owner(np.concatenate([a.owner, b.owner + n_a]), len(a.count) + len(b.count))
