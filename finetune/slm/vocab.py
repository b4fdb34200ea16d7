"""Slot vocabularies for planner training data: how people name services, metrics, durations, numbers.

Every filler returns (surface text, canonical value). Canonical values are what the contract expects
after normalisation (service names, metric enums, durations such as "1h", ints).
"""

from __future__ import annotations

import random

from tools.durations import format_duration
from tools.services import alias_table, service_names

Rng = random.Random

# Extra surface forms beyond tools.services aliases (people's shorthand and common misspellings).
_EXTRA: dict[str, list[str]] = {
    "frontend": ["frontend", "front end", "the frontend", "web frontend", "fe", "the site", "storefront",
                 "frontend svc", "frontned", "fronted"],
    "cartservice": ["cart", "cartservice", "cart service", "cart-service", "the cart svc", "carts", "cart svc",
                    "cartsvc", "cart-svc", "crat service", "cartservce"],
    "productcatalogservice": ["product catalog", "productcatalog", "catalog", "catalogue", "product catalog service",
                              "productcatalogservice", "catalog svc", "product-catalog", "prodcatalog",
                              "the catalog service", "catalgo", "products service"],
    "currencyservice": ["currency", "currencyservice", "currency service", "currency-service", "fx service",
                        "currency svc", "curency", "currncy service", "the currency converter"],
    "paymentservice": ["payment", "payments", "paymentservice", "payment service", "payment-service", "payment svc",
                       "payments svc", "paymnt", "paymentsvc", "the payment api", "payement service"],
    "shippingservice": ["shipping", "shippingservice", "shipping service", "shipping-service", "shipping svc",
                        "shiping", "shipping api", "the shipping svc"],
    "emailservice": ["email", "emailservice", "email service", "email-service", "mail service", "email svc",
                     "emial service", "the mailer", "emails"],
    "checkoutservice": ["checkout", "checkoutservice", "checkout service", "checkout-service", "checkout svc",
                        "chekout", "checkout api", "checkoutsvc", "the checkout flow", "chckout", "check-out"],
    "recommendationservice": ["recommendations", "recommendationservice", "recommendation service", "recs",
                              "recommender", "rec service", "recommendation svc", "recomendations",
                              "recommendation-service", "reco service"],
    "adservice": ["ads", "adservice", "ad service", "ad-service", "ads svc", "the ad server", "adsvc",
                  "ads service", "advertising service"],
    "redis-cart": ["redis", "redis-cart", "redis cart", "the redis cache", "cart redis", "rediscart", "the cache",
                   "redis-cart db", "cart cache", "reddis"],
}


def generic_forms(name: str) -> list[str]:
    """Surface forms of a service name nobody wrote forms for: as written, spaced, with service/svc."""
    stem = name.removesuffix("-service").removesuffix("service").removesuffix("-svc").strip("-_ ") or name
    spaced = stem.replace("-", " ").replace("_", " ")
    return list(dict.fromkeys([name, spaced, f"{spaced} service", f"{stem}-service", f"{spaced} svc",
                               f"the {spaced} service", name.upper() if len(name) <= 6 else name]))


def service(rng: Rng, canonical: str | None = None) -> tuple[str, str]:
    """A service of the current topology (or `canonical`) as someone might write it, and its name."""
    svc = canonical or rng.choice(service_names())
    extra = _EXTRA.get(svc, generic_forms(svc))
    forms = list(extra) + [a for a, c in alias_table().items() if c == svc] + [svc, svc]
    text = rng.choice(forms)
    r = rng.random()
    if r < 0.08:
        text = text.upper() if len(text) <= 8 else text.title()
    elif r < 0.16:
        text = text.capitalize()
    return text, svc


METRIC_FORMS: dict[str, list[str]] = {
    "cpu": ["cpu", "CPU", "cpu usage", "CPU utilization", "cpu utilisation", "cpu load", "processor usage",
            "cpu %", "CPU percent", "compute usage", "cpu util"],
    "memory": ["memory", "mem", "RAM", "memory usage", "memory consumption", "heap", "mem usage", "memory footprint",
               "ram usage", "memory use"],
    "latency_p50": ["p50", "p50 latency", "median latency", "latency p50", "50th percentile latency",
                    "median response time", "typical latency", "p50 response time", "median latency (p50)"],
    "latency_p99": ["p99", "p99 latency", "tail latency", "latency p99", "99th percentile latency", "latency",
                    "response time", "response times", "p99 response time", "tail latencies", "worst-case latency"],
    "error_rate": ["error rate", "errors", "error ratio", "5xx rate", "failure rate", "error percentage",
                   "errors %", "rate of errors", "err rate", "fail rate", "5xx"],
    "throughput": ["throughput", "rps", "requests per second", "traffic", "request rate", "qps", "req/s", "load",
                   "request volume", "RPS", "incoming traffic"],
    "replicas": ["replicas", "replica count", "pod count", "number of replicas", "instances", "pods",
                 "how many pods", "instance count", "replica number"],
    "queue_depth": ["queue depth", "queue length", "backlog", "queue", "pending requests", "queued requests",
                    "queue size", "request backlog", "in-flight queue"],
}


def metric(rng: Rng, canonical: str | None = None) -> tuple[str, str]:
    m = canonical or rng.choice(list(METRIC_FORMS))
    return rng.choice(METRIC_FORMS[m]), m


ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
        "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"]
TENS = {30: "thirty", 40: "forty", 45: "forty-five", 50: "fifty", 60: "sixty", 90: "ninety", 100: "a hundred"}


def number_words(n: int) -> str | None:
    if 0 <= n < len(ONES):
        return ONES[n]
    return TENS.get(n)


def count(rng: Rng, lo: int = 1, hi: int = 20, words: float = 0.35) -> tuple[str, int]:
    n = rng.randint(lo, hi)
    w = number_words(n)
    if w and rng.random() < words:
        return w, n
    return str(n), n


def replicas(rng: Rng) -> tuple[str, int]:
    r = rng.random()
    if r < 0.04:
        return "a dozen", 12
    if r < 0.07:
        return "half a dozen", 6
    if r < 0.12:
        return rng.choice([("zero", 0), ("0", 0)])
    n = rng.choice([1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 8, 8, 9, 10, 10, 12, 12, 14, 15, 16, 20, 24, 25, 30, 40, 50])
    w = number_words(n)
    if w and rng.random() < 0.4:
        return w, n
    return str(n), n


def _dur_number(rng: Rng, n: int) -> str:
    w = number_words(n)
    return w if w and rng.random() < 0.3 else str(n)


def duration(rng: Rng) -> tuple[str, str]:
    """A bare duration phrase ("2 hours", "45m", "an hour") and its canonical form."""
    kind = rng.random()
    if kind < 0.45:
        n = rng.choice([2, 3, 5, 5, 10, 10, 15, 20, 20, 25, 30, 30, 40, 45, 45, 50, 60, 90, 120])
        unit = rng.choice(["m", "m", " min", " mins", " minutes", "min", " minute" if n == 1 else " minutes", "mins"])
        num = _dur_number(rng, n) if unit.startswith(" ") else str(n)
        return f"{num}{unit}", format_duration(n * 60)
    if kind < 0.8:
        h = rng.choice([1, 2, 2, 3, 3, 4, 5, 6, 6, 8, 12, 24])
        unit = rng.choice(["h", "h", " hours", "hr", " hrs", "hrs", " hour" if h == 1 else " hours"])
        num = _dur_number(rng, h) if unit.startswith(" ") else str(h)
        return f"{num}{unit}", format_duration(h * 3600)
    if kind < 0.88:
        d = rng.choice([1, 2, 3, 7])
        unit = rng.choice(["d", " days" if d > 1 else " day"])
        num = _dur_number(rng, d) if unit.startswith(" ") else str(d)
        return f"{num}{unit}", format_duration(d * 86400)
    if kind < 0.93:
        s = rng.choice([30, 45, 90, 120])
        return rng.choice([f"{s}s", f"{s} seconds", f"{s} secs"]), format_duration(s)
    return rng.choice([("half an hour", "30m"), ("an hour", "1h"), ("a day", "1d"), ("an hour and a half", "90m"),
                       ("a quarter of an hour", "15m"), ("half a day", "12h"), ("a week", "7d"), ("1.5h", "90m"),
                       ("1h30m", "90m"), ("2h30m", "150m"), ("a couple of hours", "2h"), ("a few minutes", "5m"),
                       ("one hour", "1h"), ("ninety minutes", "90m"), ("twenty-four hours", "1d")])


_SINGULAR = [("hour", "1h"), ("day", "1d"), ("minute", "1m"), ("half hour", "30m"), ("24h", "1d"),
             ("24 hours", "1d"), ("week", "7d")]


def window(rng: Rng) -> tuple[str, str]:
    """A window phrase as used in a sentence ("over the last 2 hours", "past hour", "(last 30m)")."""
    if rng.random() < 0.2:
        word, canon = rng.choice(_SINGULAR)
        return rng.choice([f"last {word}", f"past {word}", f"the last {word}", f"over the past {word}",
                           f"in the last {word}", f"for the past {word}", f"this past {word}",
                           f"during the last {word}"]), canon
    d, canon = duration(rng)
    frame = rng.choice([
        "over the last {d}", "in the past {d}", "for the last {d}", "last {d}", "past {d}", "over {d}",
        "during the last {d}", "within the last {d}", "since {d} ago", "over a {d} window", "(last {d})",
        "for the past {d}", "in the last {d}", "the last {d}", "from the last {d}", "across the last {d}",
        "over the previous {d}", "in the previous {d}", "window {d}", "{d} window", "last {d} please",
        "going back {d}", "over the past {d}",
    ])
    if frame == "over a {d} window" and d.startswith(("an ", "a ", "half", "ninety", "twenty")):
        frame = "over {d}"
    return frame.format(d=d), canon


LOG_QUERIES = [
    "timeout", "timed out", "connection refused", "OOMKilled", "out of memory", "5xx", "503", "500",
    "deadline exceeded", "slow query", "panic", "NullReferenceException", "retry", "circuit breaker",
    "card declined", "TLS handshake", "GC overhead", "exception", "failed to charge", "cache miss", "throttling",
    "rate limit", "unavailable", "context canceled", "ECONNRESET", "CrashLoopBackOff", "SIGTERM", "rollback",
    "Deployment updated", "upstream connect error", "connection pool saturated", "queue depth", "nil pointer",
    "DeadlineExceeded", "OOM", "heap", "HTTP 500", "permission denied", "disk full", "segfault", "restarting",
    "invalid token", "rpc error", "503 Service Unavailable", "broken pipe", "too many open files", "auth failed",
    "checkout failed", "payment declined", "stack overflow", "no healthy upstream", "DNS", "x509", "killed",
]


def log_query(rng: Rng) -> tuple[str, str, str]:
    """(surface including quotes, canonical query text, quoting style)."""
    q = rng.choice(LOG_QUERIES)
    style = rng.choice(["dq", "dq", "sq", "bare", "bare", "bt"])
    wrap = {"dq": f'"{q}"', "sq": f"'{q}'", "bare": q, "bt": f"`{q}`"}[style]
    return wrap, q, style


LEVEL_FORMS: dict[str, list[str]] = {
    "error": ["error", "errors", "ERROR", "error-level", "err", "error level"],
    "warn": ["warning", "warnings", "warn", "WARN", "warn-level", "warning-level"],
    "info": ["info", "INFO", "info-level", "informational"],
}


def level(rng: Rng, canonical: str | None = None) -> tuple[str, str]:
    lv = canonical or rng.choice(["error", "error", "warn", "warn", "info"])
    return rng.choice(LEVEL_FORMS[lv]), lv


RUNBOOK_FORMS: dict[str, list[str]] = {
    "high-latency": ["high-latency", "high latency", "high_latency", "latency", "slow-response", "high-latency"],
    "error-spike": ["error-spike", "error spike", "error_spike", "errors spike", "error-spike", "spike in errors"],
    "memory-leak": ["memory-leak", "memory leak", "memory_leak", "mem leak", "memory-leak", "leak"],
    "traffic-surge": ["traffic-surge", "traffic surge", "traffic_surge", "surge", "traffic-surge", "load surge"],
    "bad-deploy": ["bad-deploy", "bad deploy", "bad_deploy", "bad deployment", "bad-deploy", "broken deploy"],
}


def runbook(rng: Rng) -> tuple[str, str]:
    name = rng.choice(list(RUNBOOK_FORMS))
    return rng.choice(RUNBOOK_FORMS[name]), name


CHANNELS = ["#ops", "#incidents", "#sre", "#oncall", "#payments-team", "#eng-alerts", "#war-room", "#sre-oncall",
            "#platform", "#checkout-incidents", "#devops", "#alerts", "#infra", "#prod-issues", "#team-core",
            "#incident-123", "#status", "#eng", "#backend", "#on-call"]


def channel(rng: Rng) -> tuple[str, str]:
    ch = rng.choice(CHANNELS)
    r = rng.random()
    if r < 0.15:
        return f"the {ch[1:]} channel", ch
    if r < 0.22:
        return f"{ch[1:]} channel", ch
    return ch, ch


def limit(rng: Rng) -> tuple[str, int]:
    n = rng.choice([5, 10, 10, 15, 20, 25, 30, 40, 50, 50, 100, 100, 200, 3, 500])
    w = number_words(n)
    if w and rng.random() < 0.25:
        return w, n
    return str(n), n
