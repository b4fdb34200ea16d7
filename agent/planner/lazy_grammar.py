"""Greedy decoding under a GBNF grammar that consults the grammar on the whole vocabulary only when it must.

llama.cpp applies a grammar sampler to every candidate token at every step: with Gemma's 262k-token
vocabulary that made a grammar-constrained planning call 3-4 times slower than a free one (0.7-1.4 s against
~0.3 s), and those calls were the slowest 8 % of a conversation's steps. Greedy decoding needs less: the
most likely token is checked alone, and only when the grammar rejects it is the grammar applied to the whole
vocabulary and the best allowed token taken. That is the token greedy decoding under the full grammar picks
(the best token, when allowed, is the best allowed one; ties go to the lower id either way), so the text is
the same (tested on the real model), and most steps cost one token's check. A rejected token is followed by
a check of the 64 best tokens, and of the whole vocabulary (~26 ms) only when none of them is allowed: the
best allowed one among them, when its logit is above every token left out, is the best allowed token of all.

`LazyGrammar(llm, grammar)` serves one completion: `choose(logits)` for the batch decoder (which then reuses
the prompt's cached KV, as the free decode before it left it), or the object itself as a llama-cpp-python
logits processor (only the chosen token stays finite) without the `grammar=` argument.
"""

from __future__ import annotations

import ctypes
from typing import Any

import numpy as np

TOP_K = 64  # a rejected best token: the grammar checks this many best tokens before the whole vocabulary
_TOKEN_DATA = np.dtype([("id", np.intc), ("logit", np.single), ("p", np.single)], align=True)


class LazyGrammar:
    """One completion's grammar state, checked lazily (see the module docstring)."""

    def __init__(self, llm: Any, grammar: Any) -> None:
        import llama_cpp

        self._ll = llama_cpp
        self._sampler = llama_cpp.llama_sampler_init_grammar(
            llm._model.vocab, grammar._grammar.encode("utf-8"), grammar._root.encode("utf-8"))
        if not self._sampler:
            raise ValueError("the grammar did not compile")
        self._one = (llama_cpp.llama_token_data * 1)()
        self.rejections = 0  # steps where the best token was rejected
        self.vocab_checks = 0  # of which the whole vocabulary was checked (no allowed token among the TOP_K best)
        self.steps = 0

    def choose(self, logits: np.ndarray) -> int:
        """The next token (greedy among those the grammar allows), and the grammar advanced past it. `logits`
        is only read."""
        token = int(np.argmax(logits))
        if not self._allows(token):
            token = self._best_allowed(logits)
        self._ll.llama_sampler_accept(self._sampler, token)
        self.steps += 1
        return token

    def __call__(self, input_ids: Any, logits: np.ndarray) -> np.ndarray:
        """As a llama-cpp-python logits processor: only the chosen token stays finite."""
        token = self.choose(logits)
        out = np.full_like(logits, -np.inf)
        out[token] = logits[token]
        return out

    def _apply(self, data: Any, size: int) -> None:
        arr = self._ll.llama_token_data_array(data=data, size=size, selected=-1, sorted=False)
        self._ll.llama_sampler_apply(self._sampler, ctypes.byref(arr))

    def _allows(self, token: int) -> bool:
        view = np.frombuffer(self._one, dtype=_TOKEN_DATA)  # type: ignore[call-overload]
        view["id"], view["logit"], view["p"] = token, 0.0, 0.0
        self._apply(self._one, 1)
        return bool(np.isfinite(view["logit"][0]))

    def _best_allowed(self, logits: np.ndarray) -> int:
        """The best token the grammar allows: among the `TOP_K` best first (ids in order, so ties go to the lower
        id as on the whole vocabulary); when one is allowed with a logit above every token left out, no other
        token can beat it, else the whole vocabulary is checked."""
        self.rejections += 1
        n = len(logits)
        if n > TOP_K:
            top = np.sort(np.argpartition(logits, n - TOP_K)[n - TOP_K:]).astype(np.intc)
            best = self._best_among(top, logits[top])
            if best is not None and logits[best] > logits[top].min():
                return best
            self.vocab_checks += 1
        best = self._best_among(np.arange(n, dtype=np.intc), logits)
        if best is None:
            raise ValueError("the grammar allows no token here")
        return best

    def _best_among(self, ids: np.ndarray, logits: np.ndarray) -> int | None:
        """The allowed token of highest logit among `ids` (the first on ties), None when none is allowed."""
        data = (self._ll.llama_token_data * len(ids))()
        view = np.frombuffer(data, dtype=_TOKEN_DATA)  # type: ignore[call-overload]
        view["id"], view["logit"], view["p"] = ids, logits, 0.0
        self._apply(data, len(ids))
        i = int(np.argmax(view["logit"]))
        return int(view["id"][i]) if np.isfinite(view["logit"][i]) else None

    def close(self) -> None:
        if self._sampler:
            self._ll.llama_sampler_free(self._sampler)
            self._sampler = None
