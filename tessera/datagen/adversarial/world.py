"""Reference data of the adversarial world: countries, names, mail providers, the retailer.

Deliberately different from the default generator's reference data: another retailer,
another mix of countries (India, Brazil and Mexico included), and short name lists, so that
same-name customers are common (a cashier picking the wrong "Priya Sharma" is a real event).
"""

from __future__ import annotations

import numpy as np


def words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# code, share of persons, calling code, has trunk 0, name group
COUNTRIES: tuple[tuple[str, float, int, bool, str], ...] = (
    ("US", 0.46, 1, False, "en"),
    ("GB", 0.12, 44, True, "en"),
    ("IN", 0.09, 91, True, "in"),
    ("DE", 0.07, 49, True, "de"),
    ("FR", 0.06, 33, True, "fr"),
    ("AU", 0.05, 61, True, "en"),
    ("BR", 0.06, 55, False, "br"),
    ("MX", 0.05, 52, False, "mx"),
    ("CA", 0.04, 1, False, "en"),
)
COUNTRY_CODES = tuple(c[0] for c in COUNTRIES)
COUNTRY_SHARES = np.array([c[1] for c in COUNTRIES]) / sum(c[1] for c in COUNTRIES)
CALLING_CODES = np.array([c[2] for c in COUNTRIES])
CURRENCIES = ("USD", "GBP", "INR", "EUR", "EUR", "AUD", "BRL", "MXN", "CAD")

FIRST_NAMES: dict[str, tuple[str, ...]] = {
    "en": words(
        "James Mary John Patricia Robert Jennifer Michael Linda David Sarah Chris Emma Daniel "
        "Olivia Matthew Sophie Tom Jessica Ryan Emily Jack Grace Liam Chloe Noah Amy"
    ),
    "in": words(
        "Priya Rahul Anjali Amit Neha Rohit Pooja Vikram Sneha Arjun Kavya Sanjay Divya "
        "Rajesh Aarti Suresh"
    ),
    "de": words(
        "Lukas Anna Jonas Lena Felix Laura Paul Julia Leon Sarah Maximilian Katharina Tobias Hannah"
    ),
    "fr": words(
        "Lucas Camille Hugo Manon Louis Chloe Jules Lea Nathan Ines Theo Julie Antoine Claire"
    ),
    "br": words(
        "Joao Maria Pedro Ana Lucas Juliana Gabriel Fernanda Rafael Camila Bruno Beatriz "
        "Thiago Larissa"
    ),
    "mx": words(
        "Jose Maria Luis Guadalupe Carlos Fernanda Juan Sofia Miguel Valeria Jorge Ximena "
        "Diego Daniela"
    ),
}
LAST_NAMES: dict[str, tuple[str, ...]] = {
    "en": words(
        "Smith Johnson Williams Brown Jones Miller Davis Wilson Taylor Anderson Thomas Moore "
        "Martin Jackson White Harris Clark Lewis Walker Hall Young King Wright Evans"
    ),
    "in": words("Sharma Patel Singh Kumar Gupta Reddy Iyer Nair Das Shah Mehta Joshi"),
    "de": words(
        "Mueller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Koch Richter"
    ),
    "fr": words(
        "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent"
    ),
    "br": words(
        "Silva Santos Oliveira Souza Lima Pereira Ferreira Costa Rodrigues Almeida Carvalho Gomes"
    ),
    "mx": words(
        "Hernandez Garcia Martinez Lopez Gonzalez Perez Rodriguez Sanchez Ramirez Cruz Flores Gomez"
    ),
}

# Mail providers per country (weights), gmail heavy: dots and +tags matter.
PROVIDERS: dict[str, tuple[tuple[str, float], ...]] = {
    "US": (
        ("gmail.com", 0.45),
        ("yahoo.com", 0.15),
        ("hotmail.com", 0.1),
        ("outlook.com", 0.1),
        ("icloud.com", 0.1),
        ("aol.com", 0.05),
        ("comcast.net", 0.05),
    ),
    "GB": (
        ("gmail.com", 0.4),
        ("hotmail.co.uk", 0.2),
        ("yahoo.co.uk", 0.1),
        ("btinternet.com", 0.1),
        ("outlook.com", 0.1),
        ("icloud.com", 0.1),
    ),
    "IN": (
        ("gmail.com", 0.6),
        ("yahoo.co.in", 0.15),
        ("rediffmail.com", 0.15),
        ("outlook.com", 0.1),
    ),
    "DE": (
        ("gmail.com", 0.3),
        ("gmx.de", 0.25),
        ("web.de", 0.25),
        ("t-online.de", 0.1),
        ("outlook.de", 0.1),
    ),
    "FR": (
        ("gmail.com", 0.4),
        ("orange.fr", 0.2),
        ("free.fr", 0.15),
        ("laposte.net", 0.1),
        ("hotmail.fr", 0.15),
    ),
    "AU": (
        ("gmail.com", 0.45),
        ("bigpond.com", 0.2),
        ("outlook.com", 0.2),
        ("optusnet.com.au", 0.15),
    ),
    "BR": (
        ("gmail.com", 0.5),
        ("hotmail.com", 0.2),
        ("uol.com.br", 0.1),
        ("bol.com.br", 0.1),
        ("yahoo.com.br", 0.1),
    ),
    "MX": (
        ("gmail.com", 0.5),
        ("hotmail.com", 0.25),
        ("outlook.com", 0.1),
        ("yahoo.com.mx", 0.1),
        ("prodigy.net.mx", 0.05),
    ),
    "CA": (
        ("gmail.com", 0.45),
        ("hotmail.com", 0.15),
        ("yahoo.ca", 0.1),
        ("shaw.ca", 0.1),
        ("rogers.com", 0.1),
        ("outlook.com", 0.1),
    ),
}
# Providers that ignore dots in the local part / deliver +tag sub-addresses.
DOT_BLIND = ("gmail.com", "googlemail.com")
PLUS_TAGS = (
    "gmail.com",
    "googlemail.com",
    "outlook.com",
    "hotmail.com",
    "icloud.com",
    "outlook.de",
    "hotmail.co.uk",
    "hotmail.fr",
)
TAG_WORDS = ("shop", "promo", "news", "deals", "orders", "kestrel", "2024", "spam", "store")
# Common mistypings of provider domains.
DOMAIN_TYPOS: dict[str, tuple[str, ...]] = {
    "gmail.com": ("gmial.com", "gmai.com", "gmail.con", "gmail.co", "gnail.com", "gamil.com"),
    "yahoo.com": ("yaho.com", "yahoo.con", "yhoo.com"),
    "hotmail.com": ("hotmial.com", "hotmail.co", "hotmal.com"),
    "outlook.com": ("outlok.com", "outlook.co"),
    "icloud.com": ("iclod.com", "icloud.co"),
}

# The retailer: Kestrel & Co., stores in every country it ships to.
BRAND_DOMAINS = ("kestrelco.com", "kestrel.shop", "mail.kestrelco.com")
STORES_PER_COUNTRY = (14, 5, 3, 3, 3, 2, 2, 2, 2)
COMPANY_WORDS = words(
    "acme globex initech umbrella hooli vandelay soylent stark wayne wonka tyrell cyberdyne "
    "aperture massive oscorp pied"
)
COMPANY_SUFFIXES = ("corp.com", "group.com", "inc.com", "ltd.co.uk", "gmbh.de", ".io", ".co")

CATEGORIES = ("outerwear", "footwear", "bags", "tops", "bottoms", "accessories", "home")
CATEGORY_PRICE = np.array([140.0, 95.0, 70.0, 35.0, 55.0, 25.0, 45.0])
CAMPAIGN_PLATFORMS = ("google", "meta", "tiktok")  # the source contract's platforms
