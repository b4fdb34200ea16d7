"""GGUF LoRA adapter export: llama.cpp tensor names and metadata, and a lossless round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from finetune.slm.export_gguf import gguf_name, read_adapter, write_adapter


def test_names_follow_llama_cpp() -> None:
    assert gguf_name("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight") == "blk.0.attn_q.weight.lora_a"
    assert gguf_name("base_model.model.model.layers.17.mlp.down_proj.lora_B.weight") == "blk.17.ffn_down.weight.lora_b"
    assert gguf_name("base_model.model.model.layers.5.mlp.gate_proj.lora_A.weight") == "blk.5.ffn_gate.weight.lora_a"
    with pytest.raises(ValueError):
        gguf_name("base_model.model.model.embed_tokens.weight")


def test_round_trip(tmp_path: Path) -> None:
    import gguf

    rng = np.random.default_rng(0)
    tensors = {
        "base_model.model.model.layers.1.self_attn.k_proj.lora_A.weight": rng.normal(size=(4, 640)).astype(np.float32),
        "base_model.model.model.layers.1.self_attn.k_proj.lora_B.weight": rng.normal(size=(256, 4)).astype(np.float32),
    }
    out = write_adapter(tensors, 8.0, tmp_path / "a.gguf")
    reader = gguf.GGUFReader(str(out))
    kinds = {k: bytes(f.parts[f.data[0]]).decode() for k, f in reader.fields.items()
             if k in ("general.type", "adapter.type", "general.architecture")}
    assert kinds == {"general.type": "adapter", "adapter.type": "lora", "general.architecture": "gemma3"}
    back, alpha, rank = read_adapter(out)
    assert alpha == 8.0 and rank == 4
    for k, v in tensors.items():
        np.testing.assert_array_equal(back[k], v)
