"""When a greedy completion ends, and its text: the same rules as llama-cpp-python's `create_completion`.

A completion ends at an end-of-generation token (text: everything so far), at the first stop string in the
detokenized text (text: up to it), or after `max_tokens` tokens. While the text ends inside a multi-byte
UTF-8 character, neither the stop strings nor the length limit are checked (as in llama-cpp-python 0.3.36,
whose loop `continue`s past both), so the batched decoder returns exactly what `create_completion` returns.
"""

from __future__ import annotations

from dataclasses import dataclass

_LEADS = ((2, 192), (3, 224), (4, 240))  # bytes in the character, lead-byte pattern


@dataclass(frozen=True)
class StopCheck:
    done: bool
    text: bytes  # the completion's text when done
    multibyte_fix: int  # carried to the next token


def incomplete_utf8(all_text: bytes, multibyte_fix: int) -> int:
    """llama-cpp-python's count of continuation bytes still to come (its `multibyte_fix`), updated for
    `all_text`'s last three bytes."""
    for k, char in enumerate(all_text[-3:]):
        k = 3 - k
        for num, pattern in _LEADS:
            if num > k and pattern & char == pattern:
                multibyte_fix = num - k
    return multibyte_fix


def check_stop(all_text: bytes, n_tokens: int, max_tokens: int, stops: tuple[bytes, ...],
               multibyte_fix: int) -> StopCheck:
    """After a (non end-of-generation) token: is the completion done, and with which text?"""
    fix = incomplete_utf8(all_text, multibyte_fix)
    if fix > 0:
        return StopCheck(False, b"", fix - 1)
    for s in stops:
        if s in all_text:
            return StopCheck(True, all_text[: all_text.index(s)], 0)
    if n_tokens >= max_tokens:
        return StopCheck(True, all_text, 0)
    return StopCheck(False, b"", 0)


def capped_max_tokens(n_prompt: int, max_tokens: int, n_ctx: int) -> int:
    """`max_tokens` capped so prompt plus completion stays below the per-sequence context (as llama-cpp-python
    does; <= 0 means "up to the context"). Raises ValueError when the prompt alone does not fit."""
    if n_prompt >= n_ctx:
        raise ValueError(f"Requested tokens ({n_prompt}) exceed context window of {n_ctx}")
    if max_tokens <= 0:
        max_tokens = n_ctx - n_prompt
    return max_tokens if max_tokens + n_prompt < n_ctx else n_ctx - n_prompt
