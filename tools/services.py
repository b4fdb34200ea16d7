"""Canonical service names of the embedded cluster and resolution of the aliases people use."""

from __future__ import annotations

import re

SERVICES: tuple[str, ...] = (
    "frontend",
    "cartservice",
    "productcatalogservice",
    "currencyservice",
    "paymentservice",
    "shippingservice",
    "emailservice",
    "checkoutservice",
    "recommendationservice",
    "adservice",
    "redis-cart",
)

_ALIASES: dict[str, str] = {
    "checkout": "checkoutservice",
    "payment": "paymentservice",
    "payments": "paymentservice",
    "pay": "paymentservice",
    "cart": "cartservice",
    "carts": "cartservice",
    "catalog": "productcatalogservice",
    "catalogue": "productcatalogservice",
    "productcatalog": "productcatalogservice",
    "product catalog": "productcatalogservice",
    "products": "productcatalogservice",
    "product": "productcatalogservice",
    "recs": "recommendationservice",
    "rec": "recommendationservice",
    "recommendation": "recommendationservice",
    "recommendations": "recommendationservice",
    "recommender": "recommendationservice",
    "ads": "adservice",
    "ad": "adservice",
    "email": "emailservice",
    "emails": "emailservice",
    "mail": "emailservice",
    "currency": "currencyservice",
    "fx": "currencyservice",
    "shipping": "shippingservice",
    "ship": "shippingservice",
    "redis": "redis-cart",
    "rediscart": "redis-cart",
    "redis cart": "redis-cart",
    "cache": "redis-cart",
    "storefront": "frontend",
    "store front": "frontend",
    "front end": "frontend",
    "front-end": "frontend",
    "web": "frontend",
    "website": "frontend",
    "ui": "frontend",
}


def _norm(name: str) -> str:
    return re.sub(r"[\s_]+", " ", name.strip().lower())


def resolve_service(name: str) -> str:
    """Map a service name or alias to its canonical name; raise ValueError listing the valid names."""
    key = _norm(name)
    if key in SERVICES:
        return key
    if key.replace(" ", "-") in SERVICES:
        return key.replace(" ", "-")
    if key in _ALIASES:
        return _ALIASES[key]
    squashed = key.replace(" ", "").replace("-", "")
    for svc in SERVICES:
        if squashed == svc.replace("-", ""):
            return svc
    if squashed.endswith("service") and squashed[: -len("service")] in _ALIASES:
        return _ALIASES[squashed[: -len("service")]]
    allowed = ", ".join(SERVICES)
    raise ValueError(f"unknown service {name!r}; allowed: {allowed} (or aliases such as checkout, cart, recs)")


def alias_table() -> dict[str, str]:
    """All aliases with their canonical names (for help text and training-data generation)."""
    return dict(_ALIASES)
