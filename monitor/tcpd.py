"""Turing Change Point Dataset (TCPD) files: load a series, run the default change-point engine over many.

A TCPD file is JSON with ``name``, ``n_obs``, ``n_dim`` and ``series``: one entry per dimension,
each with ``raw`` values (``null`` for a missing value). See van den Burg & Williams (2020),
https://github.com/alan-turing-institute/TCPD.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from detectors.changepoint import find_changes

__all__ = ["load_tcpd", "run_changepoints", "tcpd_files"]


def load_tcpd(path: str | os.PathLike) -> tuple[str, np.ndarray]:
    """Read one TCPD file: ``(name, values)``, values of shape ``(n,)`` (one series) or ``(n, d)``.

    Missing values (``null``) become NaN. Raises ``ValueError`` on a malformed file.
    """
    with open(path, encoding="utf-8") as fp:
        doc = json.load(fp)
    try:
        name = str(doc["name"])
        series = doc["series"]
        n_obs = int(doc.get("n_obs", len(series[0]["raw"])))
        columns = [[np.nan if v is None else float(v) for v in s["raw"]] for s in series]
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: not a TCPD series file ({exc!r})") from exc
    if not columns or any(len(c) != n_obs for c in columns):
        raise ValueError(f"{path}: expected {len(columns)} series of n_obs={n_obs} values")
    if "n_dim" in doc and int(doc["n_dim"]) != len(columns):
        raise ValueError(f"{path}: n_dim={doc['n_dim']} but {len(columns)} series")
    values = np.asarray(columns[0], dtype=float) if len(columns) == 1 else np.column_stack(columns)
    return name, values


def tcpd_files(paths: Iterable[str | os.PathLike] | str | os.PathLike) -> list[Path]:
    """Expand files and directories (their ``*.json``, sorted) into a list of files."""
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    out: list[Path] = []
    for p in map(Path, paths):
        out.extend(sorted(p.glob("*.json")) if p.is_dir() else [p])
    return out


def run_changepoints(paths, **settings) -> dict[str, list[int]]:
    """Change points of every TCPD file in ``paths`` (files or directories), by dataset name.

    Each value lists the 0-based indices where a new segment starts (the engine's breakpoints
    without the final ``n``), the format of TCPD annotations. ``settings`` go to
    :class:`detectors.changepoint.ChangePointEngine`.
    """
    results: dict[str, list[int]] = {}
    for path in tcpd_files(paths):
        name, values = load_tcpd(path)
        if name in results:
            raise ValueError(f"{path}: dataset name {name!r} appears twice")
        results[name] = find_changes(values, **settings)
    return results
