"""Generated service inventories for planner training data: many naming styles, none of them the shop's.

A name is built from a stem (a business word or a made-up word) in one naming style (kebab, snake, camelCase,
PascalCase, `x-api`, `x-worker`, `x-db`, `team/x`, upper case, versioned, ...). An inventory is 4-14 such names,
mostly in one house style. `surface` writes a name the way someone might type it in a request (as written,
spaced, upper case, with "service", with a typo, without its team prefix) and returns the span the planner
should copy; resolution of that span against the inventory is code, never the model's job.

Stems and styles are split into train and dev families (dev stems and the dev style never occur in training).
Names of the systems used to check generalisation from outside the repository (Train-Ticket, DeathStarBench)
are excluded: any name sharing a word with them is rejected.
"""

from __future__ import annotations

import random
import re

Rng = random.Random

# Words of the outside check systems (Train-Ticket `ts-*`, DeathStarBench social network, media, hotel):
# never used in a generated name.
EXCLUDED_WORDS = frozenset(
    "ts order orders travel station route price seat auth payment food consign config contacts security basic "
    "ticket ticketinfo preserve cancel rebook assurance notification notify execute verification admin train "
    "trip compose post posts timeline home social graph user users mention url shorten media text unique id nginx "
    "movie cast info plot rating review reviews page geo profile rate recommendation reservation search memcached "
    "mongodb jaeger hotel frontend storage delivery voucher news avatar login".split())

_TRAIN_STEMS = (
    "billing invoice ledger inventory catalog checkout cart shipping pricing quote tax fraud risk loyalty coupon "
    "promo wallet payout settlement kyc onboarding tenant workspace document upload mailer sms push ingest pipeline "
    "scheduler cron reports analytics metrics audit gateway edge router session identity accounts subscription "
    "refund dispatch warehouse fulfilment tracking courier label barcode stock supplier vendor procurement "
    "contract signature consent ledgerly feature flags experiment telemetry alerting paging chat inbox comments "
    "likes feed digest export import sync webhook callback queue broker stream events ingestion transcoder "
    "thumbnail image video audio player playlist library lyrics charts billingly cache redis postgres mysql kafka "
    "rabbit elastic vault secrets keystore cert dns proxy lb balancer").split()
_DEV_STEMS = (
    "orchard ferry harbor meadow lantern quarry beacon glacier summit compass prairie canyon pebble timber anchor "
    "courtyard garnet saffron cobalt juniper marble falcon otter walrus tundra nebula pylon kiln loom spindle "
    "treasury payroll claims underwriting premiums policyholder actuary adjuster appraisal escrow mortgage "
    "lending credit scoring statement remittance").split()

_SYLLABLES = ("ka zo ri mun tel vex qua bor lin dra fen gol hap jix kor lum nop pry sul tav wex yor zin bel cru "
              "dag fim gru hix jol kev lor mav nix oba pex rul sik tob ulm vor wim xan yel zep").split()
_DEV_SYLLABLES = ("ash bry cam dov elk fro gim hob ivo jun kip lam mox nev oru pim quo rax sen tur").split()

# Naming styles: (family name, format). {a}/{b} are stems, {A}/{B} capitalised, {t} a team word, {v} a version.
STYLES: dict[str, list[str]] = {
    "kebab": ["{a}", "{a}-{b}", "{a}-service", "{a}-svc"],
    "snake": ["{a}_{b}", "{a}_service", "{a}_svc"],
    "camel": ["{a}{B}", "{a}Service", "{a}{B}Service"],
    "pascal": ["{A}{B}", "{A}Service", "{A}"],
    "api": ["{a}-api", "{a}-{b}-api", "{a}api"],
    "worker": ["{a}-worker", "{a}-{b}-worker", "{a}_worker", "{a}-consumer", "{a}-job"],
    "db": ["{a}-db", "{a}-postgres", "{a}-redis", "{a}-cache", "{a}db", "{a}-store"],
    "team": ["{t}/{a}", "{t}/{a}-{b}", "{t}/{a}-api"],
    "upper": ["{U}", "{U}-{V}", "{U}_SVC"],
    "concat": ["{a}{b}", "{a}service", "{a}svc"],
    "made_up": ["{m}", "{m}-{b}", "{m}d", "{m}-api"],
    "versioned": ["{a}-v{v}", "{a}-{b}-v{v}", "{a}v{v}"],
}
DEV_STYLES = frozenset({"versioned"})  # held out whole: dev only
_TEAMS = "core platform payments growth data infra search-team ops shop fin".split()
_TEAMS = [t for t in _TEAMS if not set(t.split("-")) & EXCLUDED_WORDS]


def _made_up(rng: Rng, split: str) -> str:
    pool = _DEV_SYLLABLES if split == "dev" else _SYLLABLES
    return "".join(rng.choice(pool) for _ in range(rng.choice([2, 2, 3])))


def _words(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return [w.lower() for w in re.split(r"[\s_\-./]+", spaced) if w]


def allowed(name: str) -> bool:
    """False when the name shares a word with the outside check systems."""
    return not set(_words(name)) & EXCLUDED_WORDS and not name.lower().startswith("ts-")


def make_name(rng: Rng, style: str, split: str) -> str:
    stems = _DEV_STEMS if split == "dev" else _TRAIN_STEMS
    while True:
        a, b = rng.sample(stems, 2)
        m = _made_up(rng, split)
        if style == "made_up":
            a = m
        fmt = rng.choice(STYLES[style])
        name = fmt.format(a=a, b=b, A=a.capitalize(), B=b.capitalize(), U=a.upper(), V=b.upper(),
                          t=rng.choice(_TEAMS), v=rng.randint(1, 4), m=m)
        if allowed(name):
            return name


def styles_for(split: str) -> list[str]:
    return [s for s in STYLES if (s in DEV_STYLES) == (split == "dev")] + (
        [s for s in STYLES if s not in DEV_STYLES] if split == "dev" else [])


def inventory(rng: Rng, split: str) -> list[str]:
    """4-14 distinct names, mostly in one house style, sometimes mixed. Dev uses dev stems and all styles."""
    styles = styles_for(split)
    house = rng.choice(styles)
    n = rng.randint(4, 14)
    names: list[str] = []
    while len(names) < n:
        style = house if rng.random() < 0.7 else rng.choice(styles)
        name = make_name(rng, style, split)
        if name not in names and name.lower() not in {x.lower() for x in names}:
            names.append(name)
    return names


_KEYS = "qwertyuiopasdfghjklzxcvbnm"


def typo(word: str, rng: Rng) -> str:
    """One edit (drop, swap, double, replace) inside a word of 5+ letters; shorter words are left alone."""
    if len(word) < 5:
        return word
    i = rng.randrange(1, len(word) - 2)
    op = rng.random()
    if op < 0.3:
        return word[:i] + word[i + 1 :]
    if op < 0.6:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if op < 0.8:
        return word[:i] + word[i] + word[i:]
    return word[:i] + rng.choice(_KEYS) + word[i + 1 :]


def surface(name: str, rng: Rng, typos: bool = True) -> tuple[str, str]:
    """(text in the request, span to copy) for an inventory name; the span is the text minus a leading article."""
    r = rng.random()
    words = _words(name)
    span = name
    if r < 0.5:
        span = name
    elif r < 0.62 and len(words) > 1:
        span = " ".join(words)
    elif r < 0.7:
        span = name.upper() if len(name) <= 14 else name.capitalize()
    elif r < 0.78:
        span = " ".join(words) + rng.choice([" service", " svc"]) if not name.lower().endswith(("service", "svc")) \
            else name
    elif r < 0.86 and typos:
        span = typo(name, rng)
    elif r < 0.93 and "/" in name:
        span = name.split("/", 1)[1]
    else:
        span = name.capitalize() if name.islower() else name
    text = (rng.choice(["the ", "our "]) + span) if rng.random() < 0.15 else span
    return text, span
