"""Write a peft LoRA adapter as a GGUF LoRA adapter for llama.cpp, and read one back into peft form.

GGUF names come from `gguf.get_tensor_name_map(MODEL_ARCH.GEMMA3, n_layers)`: peft's
`base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight` becomes `blk.3.attn_q.weight.lora_a`.
Gemma 3 needs no Q/K permutation, so the A (r x in) and B (out x r) matrices are written as they are.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from finetune.slm.base_model import N_LAYERS

_PEFT = re.compile(r"^(?:base_model\.model\.)?(model\.layers\.\d+\.\w+\.\w+)\.lora_([AB])(?:\.default)?\.weight$")


def _name_map() -> Any:
    import gguf

    return gguf.get_tensor_name_map(gguf.MODEL_ARCH.GEMMA3, N_LAYERS)


def gguf_name(peft_name: str) -> str:
    """GGUF tensor name for a peft LoRA tensor name; raise ValueError for names that are not LoRA weights."""
    m = _PEFT.match(peft_name)
    if m is None:
        raise ValueError(f"not a LoRA weight name: {peft_name}")
    base = _name_map().get_name(m.group(1) + ".weight", try_suffixes=(".weight",))
    if base is None:
        raise ValueError(f"no GGUF name for {m.group(1)}")
    return f"{base}.lora_{m.group(2).lower()}"


def _read_peft(adapter_dir: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    from safetensors.numpy import load_file

    conf = json.loads((adapter_dir / "adapter_config.json").read_text())
    return load_file(str(adapter_dir / "adapter_model.safetensors")), conf


def export_adapter(adapter_dir: Path, out: Path, dtype: str = "f32") -> Path:
    """Convert a peft adapter directory to a GGUF LoRA adapter file at `out`."""
    tensors, conf = _read_peft(Path(adapter_dir))
    return write_adapter(tensors, float(conf["lora_alpha"]), out, dtype)


def export_checkpoint(checkpoint: Path, out: Path, alpha: float, dtype: str = "f32") -> Path:
    """Convert the adapter weights of a training checkpoint (`checkpoint.pt`) to a GGUF LoRA adapter at `out`."""
    import torch

    state = torch.load(checkpoint, weights_only=False)["adapter"]
    return write_adapter({k: v.detach().float().numpy() for k, v in state.items()}, alpha, out, dtype)


def write_adapter(tensors: dict[str, np.ndarray], alpha: float, out: Path, dtype: str = "f32") -> Path:
    import gguf

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".gguf.tmp")
    w = gguf.GGUFWriter(str(tmp), gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.GEMMA3])
    w.add_string("general.type", "adapter")
    w.add_string("adapter.type", "lora")
    w.add_float32("adapter.lora.alpha", alpha)
    w.add_string("general.name", "keel-planner-lora")
    np_dtype = np.float16 if dtype == "f16" else np.float32
    for name in sorted(tensors):
        w.add_tensor(gguf_name(name), tensors[name].astype(np_dtype))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    tmp.replace(out)
    return out


def read_adapter(path: Path) -> tuple[dict[str, np.ndarray], float, int]:
    """(peft-named tensors, alpha, rank) from a GGUF LoRA adapter (inverse of `export_adapter`)."""
    import gguf

    r = gguf.GGUFReader(str(path))
    field = r.fields["adapter.lora.alpha"]
    alpha = float(field.parts[field.data[0]][0])
    inverse: dict[str, str] = {}
    names = _name_map()
    for layer in range(N_LAYERS):
        for part in ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                     "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"):
            hf = f"model.layers.{layer}.{part}"
            inverse[str(names.get_name(hf + ".weight", try_suffixes=(".weight",)))] = hf
    out: dict[str, np.ndarray] = {}
    rank = 0
    for t in r.tensors:
        base, _, ab = t.name.rpartition(".lora_")
        shape = tuple(int(x) for x in reversed(t.shape.tolist()))
        arr = np.asarray(t.data, dtype=np.float32).reshape(shape)
        out[f"base_model.model.{inverse[base]}.lora_{ab.upper()}.weight"] = arr
        if ab == "a":
            rank = shape[0]
    return out, alpha, rank


def attach_gguf_adapter(model: Any, adapter: Path) -> Any:
    """Wrap `model` in peft LoRA layers holding the weights of a GGUF LoRA adapter."""
    import torch
    from peft import LoraConfig, get_peft_model, set_peft_model_state_dict

    from finetune.slm.base_model import LORA_TARGETS

    tensors, alpha, rank = read_adapter(adapter)
    conf = LoraConfig(r=rank, lora_alpha=int(alpha),  # peft types it int; ours is 2 x rank
                       target_modules=list(LORA_TARGETS), lora_dropout=0.0)
    pm = get_peft_model(model, conf)
    set_peft_model_state_dict(pm, {k: torch.from_numpy(v) for k, v in tensors.items()})
    pm.eval()
    return pm
