"""Numbers and output: percentiles, tables, the machine, and ``bench/results/<name>.json``."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from bench.procs import APP_ROOT, ROOT

RESULTS = ROOT / "bench" / "results"


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def r(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def ms_summary(seconds: list[float]) -> dict[str, Any]:
    """count, p50/p95/p99/max in milliseconds."""
    ms = [s * 1000 for s in seconds]
    return {
        "count": len(ms),
        "p50_ms": r(pct(ms, 50), 1),
        "p95_ms": r(pct(ms, 95), 1),
        "p99_ms": r(pct(ms, 99), 1),
        "max_ms": r(max(ms) if ms else None, 1),
    }


def histogram(values: list[float], start: float, width: float, bins: int) -> list[int]:
    """Counts per bin [start + i·width, start + (i+1)·width); the last bin takes the rest."""
    counts = [0] * bins
    for v in values:
        i = int((v - start) // width)
        if i >= 0:
            counts[min(i, bins - 1)] += 1
    return counts


def fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def print_table(headers: list[str], rows: list[list[Any]]) -> None:
    cells = [[fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(row[i]) for row in cells)) for i, h in enumerate(headers)]
    print("  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))


def print_targets(targets: dict[str, Any]) -> None:
    for name, value in targets.items():
        shown = ("met" if value else "MISSED") if isinstance(value, bool) else value
        print(f"  target {name}: {shown}")


def machine() -> dict[str, Any]:
    with open("/proc/meminfo") as f:
        total_kb = int(f.readline().split()[1])
    return {
        "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        "cpus": os.cpu_count(),
        "mem_gib": round(total_kb / 2**20, 1),
        "python": platform.python_version(),
        "loadavg_at_start": os.getloadavg(),
        "gradio": _version("gradio"),
        "gradio_client": _version("gradio_client"),
        "httpx": _version("httpx"),
        "app_under_test": code_version(APP_ROOT),
    }


def code_version(root: Path) -> dict[str, Any]:
    """Which code was measured: the app root, its commit, and a digest of its Python files."""
    digest = hashlib.sha256()
    for path in [root / "app.py", *sorted((root / "suxi").rglob("*.py"))]:
        with contextlib.suppress(OSError):
            digest.update(str(path.relative_to(root)).encode() + path.read_bytes())
    info: dict[str, Any] = {"root": str(root), "sha256_app_and_suxi": digest.hexdigest()[:16]}
    marker = root / ".bench-commit"  # written next to a frozen copy: which commit it is
    if marker.is_file():
        info["git_head"] = marker.read_text().strip()
        return info
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        git = ["git", "-C", str(root)]
        head = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        )
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "--", "app.py", "suxi"], capture_output=True, text=True
        )
        if head.returncode == 0:
            info["git_head"] = head.stdout.strip()
            info["uncommitted_changes"] = bool(dirty.stdout.strip())
    return info


def _version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "?"


def write_results(name: str, data: dict[str, Any]) -> Path:
    """``bench/results/<name>.json`` (``<name>.<BENCH_TAG>.json`` when BENCH_TAG is set)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    tag = os.environ.get("BENCH_TAG", "").strip()
    path = RESULTS / (f"{name}.{tag}.json" if tag else f"{name}.json")
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
    print(f"\nresults: {path.relative_to(ROOT)}")
    return path
