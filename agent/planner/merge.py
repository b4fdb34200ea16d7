"""Merge a LoRA adapter into a copy of the base GGUF, so serving pays no per-token adapter cost.

Each touched weight is dequantised with the `gguf` package, W += (alpha / r) * B @ A is added, and the
result is quantised again as Q8_0 (re-quantising to 4-5 bits would add noise of the same size as the LoRA
delta itself; Q8_0 keeps the merged model's calls identical to applying the adapter at run time). Every
other tensor and all metadata are copied byte for byte. The merged file is cached
keyed by the adapter's content hash, in `KEEL_MODEL_CACHE` or else next to the base GGUF (a cache shared by
every KEEL_HOME, so isolated test homes do not rebuild it).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

_KEEP = {"Q8_0", "F16", "F32", "BF16"}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def merged_path(base: Path, adapter: Path) -> Path:
    from config.settings import get_settings

    cache = get_settings().model_cache
    return (cache if cache else base.parent) / f"{base.stem}-keel-{_sha(adapter)}.gguf"


def merge(base: Path, adapter: Path, out: Path) -> Path:
    """Write base + adapter merged to `out` (atomically) and return it."""
    import gguf

    from finetune.slm.export_gguf import gguf_name, read_adapter

    lora, alpha, rank = read_adapter(adapter)
    pairs: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    for name, a in lora.items():
        if ".lora_A." in name:
            b = lora[name.replace(".lora_A.", ".lora_B.")]
            pairs[gguf_name(name).removesuffix(".lora_a")] = (a, b)
    scale = alpha / rank
    reader = gguf.GGUFReader(str(base))
    arch = bytes(reader.fields["general.architecture"].parts[-1]).decode()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(f".{os.getpid()}.tmp")
    w = gguf.GGUFWriter(str(tmp), arch)
    for key, field in reader.fields.items():
        if key.startswith("GGUF.") or key == "general.architecture":
            continue
        vtype = field.types[0]
        sub = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        w.add_key_value(key, field.contents(), vtype, sub)
    for t in reader.tensors:
        qtype = t.tensor_type
        if t.name in pairs:
            a, b = pairs[t.name]
            wf = gguf.quants.dequantize(t.data, qtype).astype(np.float32)
            wf = wf + scale * (b @ a)
            target = qtype if qtype.name in _KEEP else gguf.GGMLQuantizationType.Q8_0
            data = gguf.quants.quantize(wf, target) if target.name not in ("F32", "F16") else wf
            w.add_tensor(t.name, data, raw_shape=data.shape, raw_dtype=target)
        else:
            w.add_tensor(t.name, t.data, raw_shape=t.data.shape, raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    tmp.replace(out)
    return out


def merged_model(base: Path, adapter: Path) -> Path:
    """The cached merged GGUF for (base, adapter), building it on first use."""
    out = merged_path(base, adapter)
    return out if out.exists() else merge(base, adapter, out)
