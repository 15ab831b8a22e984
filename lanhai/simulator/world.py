"""Reference data of the simulated marketplace: scales, categories, cities, channels, currencies."""

from __future__ import annotations

from dataclasses import dataclass

CHANNELS = ("search", "recommendation", "live_stream", "kol", "community_group", "other")
EMERGING = ("live_stream", "kol", "community_group")
CURRENCIES = ("USD", "EUR", "JPY", "KRW", "HKD")
# CNY per unit at the start of the simulation; a seeded random walk moves them daily.
FX_BASE = {"USD": 7.10, "EUR": 7.75, "JPY": 0.0485, "KRW": 0.00535, "HKD": 0.91}
PILOTS = ("sustainable", "silver_economy", "second_hand")


@dataclass(frozen=True)
class Scale:
    """How big a simulated marketplace is."""

    orders: int
    merchants: int
    spus: int


SCALES = {
    "tiny": Scale(orders=6_000, merchants=150, spus=600),
    "small": Scale(orders=50_000, merchants=600, spus=2_500),
    "medium": Scale(orders=1_000_000, merchants=6_000, spus=30_000),
    "large": Scale(orders=10_000_000, merchants=30_000, spus=200_000),
}

# category_l1: (name_zh, name_en, base weight, share of non-standard SKUs, sellers per SPU mean,
#               level-2 codes)
CATEGORIES = {
    "3c_appliances": ("3C數碼家電", "3C & appliances", 0.16, 0.02, 3.6,
                      ("phones", "laptops", "audio", "kitchen_appliances")),
    "beauty": ("美妝個護", "Beauty", 0.14, 0.03, 3.4, ("skincare", "makeup", "fragrance")),
    "apparel": ("服飾鞋包", "Apparel", 0.15, 0.85, 1.25, ("womenswear", "menswear", "shoes")),
    "food": ("食品飲料", "Food & drink", 0.10, 0.10, 1.3, ("snacks", "drinks", "tea")),
    "home": ("家居家裝", "Home", 0.10, 0.60, 1.2, ("furniture", "bedding", "decor")),
    "fresh": ("生鮮農產", "Fresh produce", 0.05, 1.00, 1.1, ("fruit", "seafood")),
    "crafts": ("手作文創", "Crafts & design", 0.04, 1.00, 1.0, ("handmade", "custom_prints")),
    "pet_supplies": ("寵物用品", "Pet supplies", 0.06, 0.30, 1.4, ("pet_food", "pet_care")),
    "smart_devices": ("智能設備", "Smart devices", 0.04, 0.02, 1.8,
                      ("smart_watches", "smart_speakers", "health_monitors")),
    "health": ("醫療保健", "Health", 0.06, 0.05, 1.3, ("supplements", "mobility_aids")),
    "sports": ("運動戶外", "Sports & outdoors", 0.06, 0.30, 1.2, ("fitness", "outdoor")),
    "mother_baby": ("母嬰", "Mother & baby", 0.04, 0.10, 1.4, ("diapers", "baby_food")),
}
# list price range (CNY) per category_l1: lognormal median and sigma
PRICES = {
    "3c_appliances": (520, 0.9), "beauty": (150, 0.6), "apparel": (160, 0.6), "food": (55, 0.5),
    "home": (190, 0.8), "fresh": (85, 0.5), "crafts": (120, 0.6), "pet_supplies": (95, 0.6),
    "smart_devices": (420, 0.6), "health": (130, 0.7), "sports": (210, 0.7),
    "mother_baby": (140, 0.6),
}
# pilot category of an SPU, by category_l1: share of SPUs in each pilot
PILOT_SHARE = {
    "sustainable": {"home": 0.18, "food": 0.15, "apparel": 0.10, "fresh": 0.25, "crafts": 0.3},
    "silver_economy": {"health": 0.45, "smart_devices": 0.30, "food": 0.05, "home": 0.05},
    "second_hand": {"3c_appliances": 0.10, "apparel": 0.06, "sports": 0.08},
}

# city, tier, population weight
CITIES = (
    ("北京", "tier1", 5), ("上海", "tier1", 5), ("廣州", "tier1", 4), ("深圳", "tier1", 4),
    ("成都", "new_tier1", 4), ("杭州", "new_tier1", 4), ("重慶", "new_tier1", 4),
    ("武漢", "new_tier1", 3), ("西安", "new_tier1", 3), ("蘇州", "new_tier1", 3),
    ("南寧", "tier2", 3), ("昆明", "tier2", 3), ("廈門", "tier2", 3), ("濟南", "tier2", 3),
    ("福州", "tier2", 3), ("洛陽", "tier3", 3), ("柳州", "tier3", 3), ("贛州", "tier3", 3),
    ("綿陽", "tier3", 3), ("岳陽", "tier4", 3), ("曲靖", "tier4", 3), ("南充", "tier4", 3),
    ("周口", "tier5", 2), ("昭通", "tier5", 2), ("六安", "tier5", 2),
)
LOWER_TIERS = ("tier3", "tier4", "tier5")

WAREHOUSES = (
    ("WH-SH01", "上海", "CN", False), ("WH-BJ01", "北京", "CN", False),
    ("WH-GZ01", "廣州", "CN", False), ("WH-CD01", "成都", "CN", False),
    ("WH-WH01", "武漢", "CN", False), ("WH-XA01", "西安", "CN", False),
    ("WH-US01", "Los Angeles", "US", True), ("WH-DE01", "Frankfurt", "DE", True),
    ("WH-JP01", "Osaka", "JP", True),
)
DOMESTIC_CARRIERS = ("SF", "JD", "ZTO", "YTO", "STO", "YUNDA", "EMS")
CROSS_BORDER_CARRIERS = ("DHL", "FEDEX", "EMS")

# Festivals: (month, day, peak multiplier, ramp-up days, ramp multiplier)
FESTIVALS = ((6, 18, 3.0, 17, 1.3), (11, 11, 5.0, 11, 1.45), (12, 12, 1.8, 0, 1.0))
SPRING_FESTIVAL = {2023: "2023-01-22", 2024: "2024-02-10", 2025: "2025-01-29",
                   2026: "2026-02-17", 2027: "2027-02-06"}

# CAC per channel (CNY per new customer) the spend feed is planted with; blended about 50.
CAC_BY_CHANNEL = {"search": 51.0, "recommendation": 45.0, "live_stream": 67.0, "kol": 76.0,
                  "community_group": 39.0, "other": 33.0}
# Year-1 budget split of the pilot spend
BUDGET_SPLIT = {"sustainable": 0.40, "silver_economy": 0.35, "second_hand": 0.15, "reserve": 0.10}
