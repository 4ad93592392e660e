"""Static reference data: countries, names, product catalog, campaigns, user agents.

All domains are reserved example domains so generated emails and URLs can never reach
a real inbox or site.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

COUNTRIES = ("US", "GB", "DE")
COUNTRY_SHARE = (0.7, 0.15, 0.15)
CURRENCIES = ("USD", "GBP", "EUR")
CALLING_CODES = ("1", "44", "49")

FIRST_NAMES = (
    # US
    (
        "James",
        "Mary",
        "John",
        "Patricia",
        "Robert",
        "Jennifer",
        "Michael",
        "Linda",
        "William",
        "Elizabeth",
        "David",
        "Barbara",
        "Richard",
        "Susan",
        "Joseph",
        "Jessica",
        "Thomas",
        "Sarah",
        "Chris",
        "Karen",
        "Daniel",
        "Nancy",
        "Matthew",
        "Lisa",
        "Anthony",
        "Betty",
        "Mark",
        "Sandra",
        "Steven",
        "Ashley",
        "Andrew",
        "Emily",
        "Kevin",
        "Michelle",
        "Brian",
        "Amanda",
        "Jose",
        "Melissa",
        "Maria",
        "Tyler",
    ),
    # GB
    (
        "Oliver",
        "Olivia",
        "George",
        "Amelia",
        "Harry",
        "Isla",
        "Jack",
        "Ava",
        "Jacob",
        "Emily",
        "Noah",
        "Sophia",
        "Charlie",
        "Grace",
        "Thomas",
        "Lily",
        "Oscar",
        "Freya",
        "William",
        "Ella",
        "James",
        "Mia",
        "Alfie",
        "Poppy",
        "Henry",
        "Evie",
        "Leo",
        "Ruby",
    ),
    # DE (ASCII transliterations; emails are ASCII anyway)
    (
        "Lukas",
        "Anna",
        "Leon",
        "Lea",
        "Finn",
        "Hannah",
        "Jonas",
        "Lena",
        "Paul",
        "Emma",
        "Felix",
        "Mia",
        "Maximilian",
        "Sophie",
        "Elias",
        "Marie",
        "Ben",
        "Laura",
        "Noah",
        "Julia",
        "Luis",
        "Lina",
        "Moritz",
        "Clara",
        "Juergen",
        "Katrin",
        "Stefan",
        "Sabine",
    ),
)
LAST_NAMES = (
    (
        "Smith",
        "Johnson",
        "Williams",
        "Brown",
        "Jones",
        "Garcia",
        "Miller",
        "Davis",
        "Rodriguez",
        "Martinez",
        "Hernandez",
        "Lopez",
        "Gonzalez",
        "Wilson",
        "Anderson",
        "Thomas",
        "Taylor",
        "Moore",
        "Jackson",
        "Martin",
        "Lee",
        "Perez",
        "Thompson",
        "White",
        "Harris",
        "Sanchez",
        "Clark",
        "Ramirez",
        "Lewis",
        "Robinson",
        "Walker",
        "Young",
    ),
    (
        "Smith",
        "Jones",
        "Taylor",
        "Brown",
        "Williams",
        "Wilson",
        "Johnson",
        "Davies",
        "Patel",
        "Robinson",
        "Wright",
        "Thompson",
        "Evans",
        "Walker",
        "White",
        "Roberts",
        "Green",
        "Hall",
        "Wood",
        "Jackson",
        "Clarke",
        "Hughes",
        "Edwards",
        "Turner",
    ),
    (
        "Mueller",
        "Schmidt",
        "Schneider",
        "Fischer",
        "Weber",
        "Meyer",
        "Wagner",
        "Becker",
        "Schulz",
        "Hoffmann",
        "Schaefer",
        "Koch",
        "Bauer",
        "Richter",
        "Klein",
        "Wolf",
        "Schroeder",
        "Neumann",
        "Schwarz",
        "Zimmermann",
        "Braun",
        "Krueger",
        "Hofmann",
        "Hartmann",
    ),
)
PERSONAL_EMAIL_DOMAINS = (
    ("example.com", "mail.example", "inbox.example", "example.net"),
    ("example.co.uk", "mail.example", "example.com"),
    ("example.de", "post.example", "example.com"),
)
WORK_EMAIL_DOMAINS = ("acme.example", "globex.example", "initech.example", "umbrella.example")
COMPANIES = ("Acme Corp", "Globex", "Initech", "Umbrella", "Hooli", "Stark Industries")

CATEGORIES = (
    "apparel",
    "shoes",
    "accessories",
    "home",
    "beauty",
    "electronics",
    "outdoor",
    "kids",
)
_CATEGORY_PRICE = (45.0, 80.0, 30.0, 55.0, 25.0, 150.0, 70.0, 28.0)

SHOP_URL = "https://shop.example.com"
US_AREA_CODES = (
    201,
    202,
    206,
    212,
    213,
    214,
    303,
    305,
    312,
    404,
    415,
    503,
    512,
    602,
    617,
    646,
    702,
    713,
    718,
    801,
    805,
    818,
    917,
    919,
)

USER_AGENTS = {
    "desktop": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
        "Gecko) Version/17.4 Safari/605.1.15",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like "
        "Gecko) Chrome/124.0.0.0 Safari/537.36",
    ),
    "mobile": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
        "like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Mobile Safari/537.36",
        "Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/123.0.0.0 Mobile Safari/537.36",
    ),
    "ios": (
        "ShopApp/4.2.1 (iPhone; iOS 17.4; Scale/3.00)",
        "ShopApp/4.1.0 (iPhone; iOS 16.7; Scale/3.00)",
    ),
    "android": (
        "ShopApp/4.2.1 (Linux; Android 14; Pixel 8)",
        "ShopApp/4.2.0 (Linux; Android 13; SM-A546B)",
    ),
    "tablet": ("ShopApp/4.2.1 (iPad; iPadOS 17.4; Scale/2.00)",),
}

# (platform, campaign_id, campaign_name, ad_groups, mean cost per click)
AD_CAMPAIGNS = (
    ("google", "21034561", "Brand - Search", ("brand exact", "brand broad"), 0.6),
    ("google", "21034588", "Generic - Shoes", ("running shoes", "sneakers"), 1.4),
    ("google", "21034602", "Shopping - All Products", ("all products",), 0.9),
    ("google", "21034650", "Performance Max - Holiday", ("asset group 1",), 1.1),
    ("meta", "120208331", "Prospecting - Lookalike 1%", ("lal purchasers", "lal visitors"), 0.7),
    ("meta", "120208347", "Retargeting - Cart Abandoners", ("cart 7d", "viewers 14d"), 0.5),
    ("meta", "120208390", "App Installs - iOS", ("ios broad",), 0.9),
    ("tiktok", "1790012345", "Spark Ads - UGC", ("ugc hooks",), 0.35),
    ("tiktok", "1790012399", "App Installs - Android", ("android broad",), 0.4),
)
CLICK_ID_PARAM = {"google": "gclid", "meta": "fbclid", "tiktok": "ttclid"}

TICKET_SUBJECTS = (
    "Where is my order?",
    "Return request",
    "Item arrived damaged",
    "Wrong size",
    "Change my delivery address",
    "Discount code not working",
    "Cannot log in",
    "Question about a product",
    "Cancel my order",
    "Refund not received",
)
RETURN_REASONS = ("damaged", "wrong_size", "not_as_described", "changed_mind")


@dataclass(frozen=True)
class Catalog:
    product_ids: np.ndarray  # str
    category_index: np.ndarray  # int
    price: np.ndarray  # float
    popularity_cdf: np.ndarray  # zipf-like popularity over products

    @classmethod
    def build(cls, n_products: int = 600, seed: int = 7) -> Catalog:
        """The catalog is fixed (independent of the data seed) so SKUs are stable."""
        rng = np.random.default_rng(seed)
        category_index = rng.integers(0, len(CATEGORIES), n_products)
        base = np.array(_CATEGORY_PRICE)[category_index]
        price = np.round(base * rng.lognormal(0.0, 0.45, n_products), 0) - 0.01
        price = np.maximum(price, 4.99)
        popularity = 1.0 / np.arange(1, n_products + 1) ** 0.9
        cdf = np.cumsum(popularity) / popularity.sum()
        product_ids = np.array([f"SKU-{10001 + i}" for i in range(n_products)])
        return cls(product_ids, category_index, price, cdf)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.minimum(np.searchsorted(self.popularity_cdf, rng.random(n)), len(self.price) - 1)
