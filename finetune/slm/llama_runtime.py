"""The one place keel loads a llama.cpp model (planner, merged model, summariser, base), with safe parameters.

llama.cpp repacks weights into "extra" buffer types (CPU_REPACK, and AMX on CPUs with Advanced Matrix
Extensions). On AMX CPUs (Intel Sapphire/Emerald/Granite Rapids: most current cloud VMs) the AMX path
crashes the process in `ggml_backend_amx_mul_mat` with Q4_K_M weights (ggml-org/llama.cpp #20824), so keel
turns extra buffer types off by default on every CPU: on a CPU without AMX (AMD EPYC, AVX-512) the planner was
no slower without them (`keel bench llama`: off/on p50 ratio 0.96 on 2 quiet cores; `keel eval planner` p50
216 ms off, 231 ms on). `llama_extra_bufts = true` turns them back on where the CPU has no AMX.

llama-cpp-python's `Llama()` has no argument for this and silently ignores unknown keyword arguments, so
the flag is set on the model parameters themselves (`llama_model_params.use_extra_bufts`) while the model
is constructed, and checked afterwards. Verified with llama-cpp-python 0.3.36 (pinned in pyproject.toml).

Every model loaded here is closed at interpreter exit, before llama-cpp-python's own finalisers run (they
otherwise print "'NoneType' object is not callable" tracebacks at shutdown).
"""

from __future__ import annotations

import atexit
import contextlib
import platform
import threading
import weakref
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

AMX_FLAGS = ("amx_tile", "amx_int8", "amx_bf16")
FIX = ("set llama_extra_bufts = false in keel.toml (or KEEL_LLAMA_EXTRA_BUFTS=false): llama.cpp's repacked "
       "weight buffers (AMX, CPU_REPACK) are then not used")

_construct_lock = threading.Lock()
_open: weakref.WeakSet[Any] = weakref.WeakSet()


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU feature flags the kernel reports (Linux /proc/cpuinfo); empty where that is not readable."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def amx_flags() -> list[str]:
    """The AMX flags this CPU reports (empty on CPUs without AMX)."""
    return [f for f in AMX_FLAGS if f in cpu_flags()]


def cpu_summary() -> str:
    """One line naming the CPU model and its vector/matrix features, for error messages and `keel doctor`."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    wanted = ("avx", "avx2", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni", "f16c", "fma", *AMX_FLAGS)
    features = [f for f in wanted if f in cpu_flags()]
    return f"{model}; features: {' '.join(features) or 'none reported'}"


def extra_bufts_default(setting: bool | None = None) -> bool:
    """Whether to use extra buffer types: the setting when given, else off (never faster here, crashes on AMX)."""
    return False if setting is None else setting


@dataclass(frozen=True)
class LoadParams:
    """The parameters keel loads a model with (reported by `keel doctor`)."""

    n_ctx: int = 1024
    n_threads: int = 2
    n_batch: int = 256
    extra_bufts: bool = True

    def to_dict(self) -> dict[str, int | bool]:
        return asdict(self)


@contextlib.contextmanager
def _model_params_override(use_extra_bufts: bool) -> Iterator[None]:
    """While a `Llama` is built, its default model parameters carry `use_extra_bufts` (process-wide lock)."""
    import llama_cpp.llama_cpp as native

    original = native.llama_model_default_params

    def with_flag() -> Any:
        params = original()
        params.use_extra_bufts = use_extra_bufts
        return params

    with _construct_lock:
        native.llama_model_default_params = with_flag
        try:
            yield
        finally:
            native.llama_model_default_params = original


def load_llama(model_path: Path, lora_path: Path | None = None, *, n_ctx: int = 1024, n_threads: int = 2,
               n_batch: int = 256, extra_bufts: bool | None = None, verbose: bool = False) -> Any:
    """A `llama_cpp.Llama` for `model_path` (+ LoRA adapter) loaded with keel's safe parameters.

    `extra_bufts` None means the CPU-dependent default (`extra_bufts_default`). Raises RuntimeError if the
    flag did not reach the model parameters (an untested llama-cpp-python version).
    """
    from llama_cpp import Llama
    from llama_cpp._utils import suppress_stdout_stderr

    use = extra_bufts_default(extra_bufts)
    with _model_params_override(use), suppress_stdout_stderr(disable=verbose):
        llm = Llama(model_path=str(model_path), lora_path=str(lora_path) if lora_path else None, n_ctx=n_ctx,
                    n_threads=n_threads, n_threads_batch=n_threads, n_batch=n_batch, seed=0, verbose=verbose)
    if bool(llm.model_params.use_extra_bufts) != use:
        llm.close()
        raise RuntimeError(f"llama-cpp-python did not take use_extra_bufts={use}; keel is verified with 0.3.36")
    _open.add(llm)
    return llm


def params_of(llm: Any) -> LoadParams:
    """The parameters a model loaded by `load_llama` actually carries."""
    return LoadParams(n_ctx=int(llm.context_params.n_ctx), n_threads=int(llm.context_params.n_threads),
                      n_batch=int(llm.context_params.n_batch), extra_bufts=bool(llm.model_params.use_extra_bufts))


def build_info() -> dict[str, str]:
    """llama-cpp-python's version and llama.cpp's system info string (compiled CPU features)."""
    import llama_cpp

    info = llama_cpp.llama_print_system_info()
    return {"llama_cpp_python": str(llama_cpp.__version__),
            "system_info": info.decode(errors="replace").strip() if isinstance(info, bytes) else str(info).strip()}


def close_all() -> None:
    """Close every model loaded here (also run at interpreter exit)."""
    for llm in list(_open):
        with contextlib.suppress(Exception):
            llm.close()
    _open.clear()


atexit.register(close_all)
