"""Surface noise applied to rendered requests: politeness, Slack-isms, emoji, case, and typos."""

from __future__ import annotations

import random
import re

from finetune.slm.templates import IMPERATIVE_VERBS

POLITE = ["please {t}", "can you {t}?", "could you {t} please", "{t} pls", "i need you to {t}", "go ahead and {t}",
          "let's {t}", "{t}, thanks", "would you {t}?", "kindly {t}", "{t} plz", "mind if you {t}?", "pls {t}",
          "need to {t}", "can u {t}", "{t} when you get a sec"]
PREFIXES = ["hey keel, ", "@keel ", "keel: ", "yo ", "quick one: ", "urgent: ", "ok ", "hi, ", "<@U02KEEL> ",
            ":rotating_light: ", "🚨 ", "fyi ", "so ", "hmm ", "ugh, ", "q: ", "hey, ", "team, ", "oncall here - ",
            "prod: ", "hey bot ", "ok so ", "sorry, ", "morning! "]
SUFFIXES = [" pls", " please", " thx", " asap", "!!", " 🙏", " 🔥", " :fire:", " :pray:", " thanks", " 👀", " ?",
            "...", " :eyes:", " rn", " (prod)", " - urgent", " 😬", " ty", " plz", "!", " thanks!", " 🤔", " :(",
            " again", " real quick", " :sweat_smile:", " 🙂"]

_KEYS = "qwertyuiopasdfghjklzxcvbnm"


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 4 or not word.isalpha():
        return word
    i = rng.randrange(1, len(word) - 1)
    op = rng.random()
    if op < 0.3:
        return word[:i] + word[i + 1 :]
    if op < 0.6:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if op < 0.8:
        return word[:i] + word[i] + word[i:]
    return word[:i] + rng.choice(_KEYS) + word[i + 1 :]


def add_typos(text: str, rng: random.Random, rate: float = 0.12) -> str:
    words = text.split(" ")
    return " ".join(_typo(w, rng) if rng.random() < rate and "\x00" not in w else w for w in words)


def stylise(text: str, rng: random.Random) -> str:
    """Random surface variation; protected spans are marked with \x00...\x01 and left intact."""
    first = re.split(r"[\s,:]", text, maxsplit=1)[0].lower()
    if first in IMPERATIVE_VERBS and rng.random() < 0.3:
        text = rng.choice(POLITE).format(t=text)
    if rng.random() < 0.18:
        text = add_typos(text, rng)
    r = rng.random()
    if r < 0.3:
        text = text.lower()
    elif r < 0.6:
        text = text[:1].upper() + text[1:]
    elif r < 0.62:
        text = text.upper()
    if rng.random() < 0.2:
        text = rng.choice(PREFIXES) + text
    if rng.random() < 0.25:
        text = text.rstrip("?.!") + rng.choice(SUFFIXES)
    elif rng.random() < 0.15:
        text = text.rstrip("?.!")
    return text
