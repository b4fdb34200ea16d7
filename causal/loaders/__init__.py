"""Dataset loaders: each turns a directory into a list of `causal.case.Case`."""

from __future__ import annotations

from pathlib import Path

from causal.case import Case

DATASETS = ("sockshop", "nezha", "generic")


def load(dataset: str, path: str | Path) -> list[Case]:
    """Load every case of `dataset` under `path`; ValueError names the dataset or path when wrong."""
    p = Path(path)
    if not p.is_dir():
        raise ValueError(f"path: {p} is not a directory")
    if dataset == "sockshop":
        from causal.loaders.sockshop import load_sockshop

        return load_sockshop(p)
    if dataset == "nezha":
        from causal.loaders.nezha import load_nezha

        return load_nezha(p)
    if dataset == "generic":
        from causal.loaders.generic import load_generic

        return load_generic(p)
    raise ValueError(f"dataset: got {dataset!r}; allowed: {', '.join(DATASETS)}")
