"""keel's llama.cpp loader: the extra-buffer-type flag reaches llama.cpp (its load log proves it), the default
follows the CPU's AMX flags, and models are closed at exit without finaliser tracebacks."""

from __future__ import annotations

import subprocess
import sys

import pytest

from finetune.slm import llama_runtime
from finetune.slm.llama_runtime import amx_flags, extra_bufts_default
from tests.ci import unavailable

LOAD = """
import sys
from finetune.slm.base_model import base_gguf
from finetune.slm.llama_runtime import load_llama
llm = load_llama(base_gguf(), extra_bufts={flag}, verbose=True, n_ctx=256)
print("use_extra_bufts", bool(llm.model_params.use_extra_bufts))
out = llm.create_completion("Request: cpu of cart\\nCall:", max_tokens=4, temperature=0.0, top_k=1)
print("generated", repr(out["choices"][0]["text"]))
"""


def _load_log(flag: bool) -> subprocess.CompletedProcess[str]:
    try:
        import llama_cpp  # noqa: F401
    except ImportError as e:
        unavailable(f"llama-cpp-python is not installed: {e}")
    proc = subprocess.run([sys.executable, "-c", LOAD.format(flag=flag)], capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr[-2000:]}"
    return proc


def _repacked_buffers(log: str) -> list[str]:
    return [line for line in log.splitlines() if "model buffer size" in line and ("REPACK" in line or "AMX" in line)]


def test_default_is_off_on_every_cpu_and_the_setting_forces_it(monkeypatch: pytest.MonkeyPatch) -> None:
    for flags in (["amx_tile", "amx_int8"], []):
        monkeypatch.setattr(llama_runtime, "amx_flags", lambda flags=flags: flags)
        assert extra_bufts_default() is False
        assert extra_bufts_default(True) is True and extra_bufts_default(False) is False


@pytest.mark.slow
def test_extra_buffer_types_off_reaches_llama_cpp() -> None:
    proc = _load_log(False)
    assert "use_extra_bufts False" in proc.stdout
    assert "CPU_Mapped model buffer size" in proc.stderr, proc.stderr[-2000:]  # the log is there to read
    assert _repacked_buffers(proc.stderr) == [], _repacked_buffers(proc.stderr)
    assert "Traceback" not in proc.stderr and "NoneType" not in proc.stderr  # closed cleanly at exit


@pytest.mark.slow
def test_extra_buffer_types_on_repack_weights_where_safe() -> None:
    if amx_flags():
        pytest.skip(f"this CPU has AMX ({', '.join(amx_flags())}): loading with extra buffer types crashes here")
    proc = _load_log(True)
    assert "use_extra_bufts True" in proc.stdout
    assert "REPACK = 1" not in proc.stderr or _repacked_buffers(proc.stderr), proc.stderr[-2000:]
