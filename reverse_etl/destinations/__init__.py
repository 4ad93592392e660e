"""Destinations, one module each, behind `reverse_etl.destinations.base.Destination`."""

from __future__ import annotations

from collections.abc import Mapping

from reverse_etl.config import ConfigError, DestinationConfig, SyncConfig
from reverse_etl.destinations.base import BaseDestination, Destination
from reverse_etl.destinations.braze import BrazeUsers
from reverse_etl.destinations.file_export import FileExport
from reverse_etl.destinations.google_ads import GoogleAdsCustomerMatch
from reverse_etl.destinations.hubspot import HubSpotContacts
from reverse_etl.destinations.meta_audience import MetaCustomAudience
from reverse_etl.destinations.salesforce import SalesforceBulk
from reverse_etl.destinations.webhook import Webhook

DESTINATION_TYPES: dict[str, type[BaseDestination]] = {
    cls.type: cls
    for cls in (
        HubSpotContacts,
        MetaCustomAudience,
        Webhook,
        FileExport,
        SalesforceBulk,
        BrazeUsers,
        GoogleAdsCustomerMatch,
    )
}


def destination_class(type_name: str) -> type[BaseDestination]:
    try:
        return DESTINATION_TYPES[type_name]
    except KeyError:
        known = ", ".join(sorted(DESTINATION_TYPES))
        raise ConfigError(f"unknown destination type {type_name!r} (known: {known})") from None


def build_destination(
    config: DestinationConfig, sync: SyncConfig, env: Mapping[str, str] | None = None
) -> Destination:
    cls = destination_class(config.type)
    resolved = config.model_copy(update={"base_url": config.resolved_base_url(env)})
    return cls(resolved, sync, config.secrets(env))  # type: ignore[return-value]
