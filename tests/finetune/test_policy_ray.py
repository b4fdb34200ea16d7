"""GRPO rollouts on a real local Ray cluster (`ray start --head` on 127.0.0.1, started and stopped here): the
policy trained by `keel finetune policy --ray ADDRESS` equals the in-process run of the same budget, bit for bit."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from finetune.policy.inference import load_policy
from tests.ci import unavailable
from tests.finetune.test_policy_grpo import _tiny, _trace


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[str]:
    """A one-node Ray cluster on 127.0.0.1 (2 CPUs, no dashboard), in its own process group, torn down after."""
    if importlib.util.find_spec("ray") is None:
        unavailable("ray is not installed (pip install -e '.[ray]'; .ci/run installs it)")
    exe = Path(sys.executable).with_name("ray")
    if not exe.exists():
        unavailable(f"the ray command is not installed next to {sys.executable}")
    port = _free_port()
    temp = tempfile.mkdtemp(prefix="kr", dir="/tmp")  # short: Ray's socket paths live under it
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    proc = subprocess.Popen(
        [str(exe), "start", "--head", "--block", "--node-ip-address=127.0.0.1", f"--port={port}", "--num-cpus=2",
         "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
                    pytest.fail(f"ray start --head did not come up on {address}:\n{out[-2000:]}")
                time.sleep(0.5)
        yield address
    finally:
        import ray

        if ray.is_initialized():
            ray.shutdown()
        os.killpg(proc.pid, signal.SIGTERM)  # the cluster's processes only (its own session)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        with contextlib.suppress(ProcessLookupError):  # whatever of the cluster is still up
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        shutil.rmtree(temp, ignore_errors=True)


def test_keel_finetune_policy_on_ray_equals_the_in_process_run(tmp_path: Path, ray_cluster: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI path (`--ray ADDRESS` -> `ray_rollouts` -> `train`) with a small budget: the tiny test configuration
    stands in for the default one (whose warm start alone takes minutes on 2 cores)."""
    from typer.testing import CliRunner

    from cli.main import app
    from finetune.policy.train import TrainConfig, train

    path = _trace(tmp_path)
    local = train(_tiny(path), tmp_path / "local", tmp_path / "local.pt", log=lambda _msg: None)
    monkeypatch.setattr(TrainConfig, "for_algo", classmethod(lambda cls, algo, **kw: _tiny(path)))
    monkeypatch.setenv("KEEL_HOME", str(tmp_path / "home"))
    out = CliRunner().invoke(app, ["finetune", "policy", "--ray", ray_cluster, "--trace", str(path), "--no-card",
                                   "--no-progress", "--work-dir", str(tmp_path / "ray"), "--out",
                                   str(tmp_path / "ray.pt")])
    assert out.exit_code == 0, out.output
    import ray

    port = ray_cluster.rsplit(":", 1)[1]
    assert ray.is_initialized() and ray.get_runtime_context().gcs_address.endswith(":" + port)  # Ray names the host
    assert len(ray.nodes()) == 1 and ray.cluster_resources()["CPU"] == 2  # the test's cluster, not a local fallback
    pl, meta_l = load_policy(tmp_path / "local.pt")
    pr, meta_r = load_policy(tmp_path / "ray.pt")
    for name in ("w1", "b1", "w2", "b2", "w3", "b3"):
        np.testing.assert_array_equal(getattr(pl, name), getattr(pr, name))
    assert local["iterations"] == meta_r["iterations"] == 4 and local["sim_steps"] == meta_r["sim_steps"]
    assert [v["iteration"] for v in meta_l["validation"]] == [v["iteration"] for v in meta_r["validation"]]
