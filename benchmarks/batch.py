"""Benchmark the batch command on Dask: workers, a single run, and equality.

Run: ``.venv/bin/python benchmarks/batch.py [--only malta|porto] [--tiles 4]`` (needs
../shared/data). Appends a dated section to benchmarks/RESULTS.md.

For each extract (Malta; Porto with the generated homes and facilities of
benchmarks/scale.py), in one run on one machine, each in its own process:

- the usual approach, a single run over the whole extract in one process: load once, then
  coverage for every category and both walking profiles, gaps of every category and the
  standards checklist (what one batch area computes), no Dask;
- ``python -m gis batch --areas tiles:N`` (N x N tiles, 16 by default) with 1 worker and
  with 2 workers on a LocalCluster: the whole command and its batch part (the areas on
  Dask, after the shared load and split), the speed-up of 2 workers against 1 (target
  >= 1.7x on the batch part), areas per minute per core, input per area and worker memory;
- equality: every home's covered flag, each category and profile, of the merged batch
  against the single run (target: no difference).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.scale import MALTA, PORTO, RESULTS, SHARED, generate_porto  # noqa: E402

PROFILES = ("adult", "elderly")
SPEEDUP_TARGET = 1.7


def child_single(source: str, buildings: str, facilities: str, out: str) -> None:
    """The single run: load the whole extract and run one area that holds everything."""
    import shapely

    from gis.analysis.standards import load_standards
    from gis.batch import halo_m, run_area, split_areas
    from gis.settings import load_settings
    from gis.study import load_study

    t0 = time.perf_counter()
    settings = load_settings()
    standards = load_standards(None, settings)
    study = load_study(source, settings, compounds=False, buildings_path=buildings or None,
                       facilities_path=facilities or None)
    import geopandas as gpd

    whole = gpd.GeoDataFrame({"area_id": ["all"]}, geometry=[shapely.box(
        *study.homes.total_bounds).buffer(10)], crs=study.homes.crs)
    inputs, _ = split_areas(study.network, study.homes, study.facilities, whole,
                            halo=halo_m(settings, PROFILES, standards))
    res = run_area(inputs[0], settings, PROFILES, standards)
    if res.error:
        raise SystemExit(res.error)
    seconds = time.perf_counter() - t0
    cols = [c for c in res.homes.columns if c.startswith("covered_")]
    frame = res.homes[cols].copy()
    frame["key"] = res.homes["home_id"].to_numpy()
    frame.to_parquet(out)
    print(json.dumps({"seconds": seconds,
                      "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "homes": len(frame)}))


def run_cli(argv: list[str]) -> tuple[float, str]:
    """Run ``python -m gis`` in a fresh process; return its wall seconds and output."""
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "gis", *argv], cwd=ROOT, capture_output=True,
                         text=True, check=False)
    seconds = time.perf_counter() - t0
    if out.returncode != 0:
        msg = f"{argv[:4]} failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}"
        raise RuntimeError(msg)
    return seconds, out.stdout + out.stderr


def batch_seconds(text: str) -> float:
    """Return the batch part's seconds from the command's last line."""
    import re

    for line in text.splitlines():
        if line.startswith("Batch:"):
            return float(re.search(r"areas ([0-9.]+) s", line).group(1))
    msg = f"no 'Batch:' line in the output:\n{text[-1500:]}"
    raise RuntimeError(msg)


def run_extract(name: str, source: Path, tmp: Path, tiles: int, *,
                buildings: Path | None = None, facilities: Path | None = None) -> list[str]:
    """Measure the single run and the batch with 1 and 2 workers; return report lines."""
    import geopandas as gpd
    import pandas as pd

    extra = [*(["--buildings", str(buildings)] if buildings else []),
             *(["--facilities", str(facilities)] if facilities else [])]
    single_out = tmp / f"{name[:5]}_single.parquet"
    proc = subprocess.run([sys.executable, __file__, "--single", str(source),
                           str(buildings or ""), str(facilities or ""), str(single_out)],
                          cwd=ROOT, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    single = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"{name} single run: {single['seconds']:.1f} s", flush=True)
    runs = {}
    for workers in (1, 2):
        out = tmp / f"{name[:5]}_w{workers}"
        wall, text = run_cli(["batch", "--areas", f"tiles:{tiles}", "--source", str(source),
                              *extra, "--workers", str(workers), "--out", str(out)])
        runs[workers] = {"wall": wall, "batch": batch_seconds(text), "out": out}
        print(f"{name} batch, {workers} worker(s): {wall:.1f} s "
              f"(areas {runs[workers]['batch']:.1f} s)", flush=True)
    summary = pd.read_csv(runs[2]["out"] / "areas_summary.csv")
    merged = gpd.read_file(runs[2]["out"] / "homes.gpkg", layer="homes")
    merged["key"] = merged["home_id"]
    ref = pd.read_parquet(single_out).set_index("key")
    merged = merged.set_index("key").reindex(ref.index)
    cols = [c for c in ref.columns if c.startswith("covered_")]
    diff = int(sum((merged[c].fillna(False).astype(bool).to_numpy()
                    != ref[c].astype(bool).to_numpy()).sum() for c in cols))
    missing = int(merged[cols[0]].isna().sum())
    speedup = runs[1]["batch"] / runs[2]["batch"]
    n_areas = len(summary)
    with_homes = summary[summary["homes"] > 0]
    per_min_core = n_areas / (runs[1]["batch"] / 60)
    ok = "yes" if speedup >= SPEEDUP_TARGET else "no"
    return [
        f"### {name}: {tiles} x {tiles} tiles ({n_areas} areas, {len(with_homes)} with homes, "
        f"{len(ref):,} homes)", "",
        "| run | whole command | areas on Dask (after cluster start) | memory |",
        "| --- | ---: | ---: | ---: |",
        f"| single run, one process, no Dask (the usual approach) | {single['seconds']:.1f} s "
        f"| - | {single['peak_mb']:.0f} MB |",
        f"| batch, 1 worker | {runs[1]['wall']:.1f} s | {runs[1]['batch']:.1f} s | - |",
        f"| batch, 2 workers | {runs[2]['wall']:.1f} s | {runs[2]['batch']:.1f} s | "
        f"{summary['worker_rss_mb'].max():.0f} MB per worker at most |", "",
        f"Speed-up of 2 workers against 1 on the areas: {speedup:.2f}x (target >= "
        f"{SPEEDUP_TARGET}x: {ok}); areas per minute per core {per_min_core:.0f} "
        f"(area seconds: median {with_homes['seconds'].median():.2f}, max "
        f"{with_homes['seconds'].max():.2f}); input per area: median "
        f"{with_homes['input_mb'].median():.2f} MB, max {with_homes['input_mb'].max():.2f} MB; "
        f"batch against the single run (whole command, 2 workers): "
        f"{runs[2]['wall'] / single['seconds']:.2f}x.",
        f"Equality: {diff} covered flags differ from the single run "
        f"({len(ref):,} homes x {len(cols)} category-profile columns; {missing} homes "
        f"missing from the batch).", ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("malta", "porto"), default=None)
    parser.add_argument("--tiles", type=int, default=4)
    args = parser.parse_args()
    if not MALTA.exists():
        print(f"{SHARED} is absent: the city-scale extracts are needed.", file=sys.stderr)
        raise SystemExit(2)
    lines = [f"## Batch on Dask, {dt.date.today().isoformat()} ({platform.node()}, "
             f"{os.cpu_count()} cores, Python {platform.python_version()})", ""]
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if args.only in (None, "malta"):
            lines += run_extract("Malta", MALTA, tmp, args.tiles)
        if args.only in (None, "porto"):
            hp, fp = generate_porto(tmp)
            lines += run_extract("Porto (100,000 generated homes, 2,000 facilities)", PORTO,
                                 tmp, args.tiles, buildings=hp, facilities=fp)
    text = "\n".join(lines)
    print(text)
    with RESULTS.open("a", encoding="utf-8") as f:
        f.write("\n" + text + "\n")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--single":
        child_single(*sys.argv[2:6])
    else:
        main()
