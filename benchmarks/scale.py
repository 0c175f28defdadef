"""Benchmark every step at city scale against the time pyrosm takes to parse the file.

Run: ``.venv/bin/python benchmarks/scale.py [--only malta|porto]`` (needs ../shared/data).
Appends a dated section to benchmarks/RESULTS.md.

For each extract, in one run on one machine:

- the parse time: pyrosm reading the walking network, buildings and POIs of the file (the
  cost no tool can avoid), the denominator of every ratio;
- ``python -m gis coverage`` (every category, per-facility and category circles),
  ``grids`` and ``sites -k 5``, each in its own process: wall time, ratio to the parse
  time, peak memory (targets: coverage <= 3x, grids <= 6x, sites <= 4x, < 2 GB);
- on Malta, agreement with the slow reference path: covered homes against a networkx
  multi-source Dijkstra on the same network and attachments (target: no mismatch), and
  the category circle against the union of per-facility circles drawn the old way, one
  search and one union per facility (target: areas within 1 %).

Every measured process starts with an empty temporary folder, so pyrosm 0.25's result
cache (GeoParquet files of earlier reads of the same file under ``<tempdir>/pyrosm``) is
cold for the parse and for the commands alike: a warm cache halves a read, and a ratio
of a cold command to a warm parse (or the reverse) would mislead.

The grids are also judged, from the written communities and grids layers: the median
and worst deviation of a community from the mean community, grids outside the 200-500
households range, and the median Polsby-Popper compactness of each.

Porto has streets only: 100,000 homes and 2,000 facilities are generated on it (seeded):
each a point 5-60 m (facilities 2-20 m) to the side of a random point on a random street,
streets drawn in proportion to their length; 70 % houses of 1-4 households and 30 % blocks
of flats of 5-40 (about 850,000 households in all); facility
categories in the proportions catering 40 %, daily retail 25 %, health 10 %, household
services 10 %, community service 10 %, elderly care 5 %. They are passed as the user's
buildings and facilities layers.
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

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "benchmarks" / "RESULTS.md"
SHARED = Path(os.environ.get("SHARED_DATA", ROOT.parent / "shared" / "data"))
MALTA = SHARED / "malta" / "malta-2018-08-27.osm.pbf"
PORTO = SHARED / "porto_streets" / "porto-streets.osm.pbf"
TARGETS = {"coverage": 3.0, "grids": 6.0, "sites": 4.0}
MEMORY_TARGET_MB = 2048


def child(argv: list[str]) -> None:
    """Run one measured step in this process and print its time and peak memory as JSON."""
    kind, *rest = argv
    t0 = time.perf_counter()
    if kind in ("parse", "parse_graph"):
        import pyrosm

        osm = pyrosm.OSM(rest[0])
        # parse: the ways as they are; parse_graph: the ways split at every shared node,
        # the form any routing needs (what this tool reads).
        osm.get_network(network_type="walking", nodes=kind == "parse_graph")
        osm.get_buildings()
        osm.get_pois()
    elif kind == "cli":
        from gis.cli import main

        code = main(rest)
        if code != 0:
            raise SystemExit(code)
    seconds = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb}))


def measure(*argv: str) -> dict[str, float]:
    """Run ``child(argv)`` in a fresh process with an empty temporary folder (pyrosm's
    result cache cold); return its seconds and peak memory."""
    with tempfile.TemporaryDirectory() as cold:
        out = subprocess.run([sys.executable, __file__, "--child", *argv], cwd=ROOT,
                             capture_output=True, text=True, check=False,
                             env=dict(os.environ, TMPDIR=cold))
    if out.returncode != 0:
        msg = f"{argv[:3]} failed:\n{out.stderr[-2000:]}"
        raise RuntimeError(msg)
    return json.loads(out.stdout.strip().splitlines()[-1])


def generate_porto(folder: Path, n_homes: int = 100_000, n_fac: int = 2_000) -> tuple[Path,
                                                                                     Path]:
    """Write generated homes and facilities on Porto's streets (see the module docstring)."""
    import geopandas as gpd
    import shapely

    from gis.data.sources import load_osm
    from gis.settings import load_settings

    rng = np.random.default_rng(20261124)
    streets = load_osm(str(PORTO), load_settings()).streets
    local = streets.to_crs(streets.estimate_utm_crs())
    geoms = np.asarray(local.geometry.values)
    length = shapely.length(geoms)
    p = length / length.sum()

    def scatter(n: int, lo: float, hi: float) -> np.ndarray:
        pick = rng.choice(geoms.size, size=n, p=p)
        at = rng.random(n) * length[pick]
        a = shapely.line_interpolate_point(geoms[pick], at)
        b = shapely.line_interpolate_point(geoms[pick], np.minimum(at + 1.0, length[pick]))
        ax, ay = shapely.get_coordinates(a).T
        bx, by = shapely.get_coordinates(b).T
        dx, dy = bx - ax, by - ay
        norm = np.hypot(dx, dy)
        norm[norm == 0] = 1.0
        side = rng.uniform(lo, hi, n) * rng.choice([-1.0, 1.0], n)
        return shapely.points(ax - dy / norm * side, ay + dx / norm * side)

    # 70 % houses of 1-4 households, 30 % blocks of flats of 5-40: about 850,000
    # households, the size of the metropolitan area.
    flats = rng.random(n_homes) < 0.3
    hh = np.where(flats, rng.integers(5, 41, n_homes), rng.integers(1, 5, n_homes))
    homes = gpd.GeoDataFrame({"households": hh},
                             geometry=scatter(n_homes, 5, 60), crs=local.crs)
    cats = ["catering", "daily_retail", "health", "household_services", "community_service",
            "elderly_care"]
    fac = gpd.GeoDataFrame({"category": rng.choice(cats, n_fac,
                                                   p=[0.4, 0.25, 0.1, 0.1, 0.1, 0.05]),
                            "name": [f"generated {i}" for i in range(n_fac)]},
                           geometry=scatter(n_fac, 2, 20), crs=local.crs)
    hp, fp = folder / "porto_homes.gpkg", folder / "porto_facilities.gpkg"
    homes.to_crs(4326).to_file(hp)
    fac.to_crs(4326).to_file(fp)
    return hp, fp


def agreement_malta() -> dict[str, object]:
    """Compare Malta's results with the slow reference path (see the module docstring)."""
    import networkx as nx
    import shapely

    from gis.analysis.coverage import _band, category_circles, compute_coverage, service_circles
    from gis.settings import load_settings
    from gis.study import load_study

    settings = load_settings()
    study = load_study(str(MALTA), settings)
    result = compute_coverage(study.access(), study.facilities, settings)
    net = study.network
    access = result.access
    out: dict[str, object] = {}
    # Covered homes: networkx on the same graph, homes and facilities inserted on edges.
    cat = "health"
    thr = result.thresholds[cat].metres
    g = nx.Graph()
    for u, v, w in zip(net.edge_u, net.edge_v, net.edge_length_m, strict=True):
        if u != v and (not g.has_edge(u, v) or g[u][v]["weight"] > w):
            g.add_edge(int(u), int(v), weight=float(w))
    fac = result.facilities[result.facilities["category"] == cat]
    fsnap = access.snap(fac)
    for k in np.flatnonzero(fsnap.ok):
        e = fsnap.edge[k]
        node = ("f", int(k))
        g.add_edge(node, int(net.edge_u[e]), weight=fsnap.access_m[k] + fsnap.offset_m[k])
        g.add_edge(node, int(net.edge_v[e]),
                   weight=fsnap.access_m[k] + net.edge_length_m[e] - fsnap.offset_m[k])
    t0 = time.perf_counter()
    dist = nx.multi_source_dijkstra_path_length(
        g, [("f", int(k)) for k in np.flatnonzero(fsnap.ok)], cutoff=thr)
    hs = access.home_snap
    ref = np.zeros(access.n_homes, dtype=bool)
    for i in np.flatnonzero(hs.ok):
        e = hs.edge[i]
        via_u = dist.get(int(net.edge_u[e]), np.inf) + hs.offset_m[i]
        via_v = dist.get(int(net.edge_v[e]), np.inf) + net.edge_length_m[e] - hs.offset_m[i]
        direct = np.inf
        same = np.flatnonzero(fsnap.ok & (fsnap.edge == e))
        if same.size:
            direct = np.min(np.abs(fsnap.offset_m[same] - hs.offset_m[i])
                            + fsnap.access_m[same])
        ref[i] = hs.access_m[i] + min(via_u, via_v, direct) <= thr
    out["networkx_seconds"] = time.perf_counter() - t0
    got = result.homes[f"covered_{cat}"].to_numpy()
    out["covered_mismatches"] = int((ref != got).sum())
    out["homes_compared"] = int(access.n_homes)
    # Circles: fast category circle vs the union of old-style per-facility circles.
    rows = []
    for cid in ("community_service", "household_services"):
        thr = result.thresholds[cid].metres
        mine = result.facilities[result.facilities["category"] == cid]
        snap = access.snap(mine)
        t0 = time.perf_counter()
        polys = []
        for k in np.flatnonzero(snap.ok):
            one = snap.subset(np.array([k]))
            nd = net.node_distances(one, limit_m=thr)
            polys.append(_band(net.reachable_lines(nd, thr, one), settings.circle_buffer_m))
        slow = shapely.union_all(polys)
        slow_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        circles = service_circles(result, settings, categories=[cid])
        fast = category_circles(result, settings, circles=circles)
        fast_s = time.perf_counter() - t0
        fast_area = float(fast.geometry.iloc[0].area)
        rows.append({"category": cid, "facilities": int(snap.ok.sum()),
                     "slow_s": slow_s, "fast_s": fast_s, "slow_area_km2": slow.area / 1e6,
                     "fast_area_km2": fast_area / 1e6,
                     "area_diff_pct": 100 * abs(fast_area - slow.area) / slow.area})
    out["circles"] = rows
    return out


def run_extract(name: str, source: Path, tmp: Path, *, buildings: Path | None = None,
                facilities: Path | None = None) -> list[str]:
    """Measure the parse and the three commands on one extract; return report lines."""
    homes = ["--buildings", str(buildings)] if buildings else []
    extra = [*homes, *(["--facilities", str(facilities)] if facilities else [])]
    parse = measure("parse", str(source))
    graph = measure("parse_graph", str(source))
    lines = [f"### {name}: ratios to the pyrosm parse of streets, buildings and POIs "
             f"({parse['seconds']:.1f} s, {parse['peak_mb']:.0f} MB; with the streets split "
             f"at intersections for routing {graph['seconds']:.1f} s)", "",
             "| step | time | ratio to parse | target | ratio to the routable parse "
             "| peak memory |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    steps = {
        "coverage": ["coverage", "--source", str(source), *extra, "--quiet",
                     "--out", str(tmp / f"{name}_coverage.gpkg")],
        "grids": ["grids", "--source", str(source), *homes, "--quiet",
                  "--out", str(tmp / f"{name}_grids.gpkg")],
        "sites": ["sites", "--category", "health", "-k", "5", "--source", str(source),
                  *extra, "--quiet", "--out", str(tmp / f"{name}_sites.gpkg")],
    }
    for step, argv in steps.items():
        m = measure("cli", *argv)
        ratio = m["seconds"] / parse["seconds"]
        ok = "yes" if ratio <= TARGETS[step] and m["peak_mb"] < MEMORY_TARGET_MB else "no"
        lines.append(f"| `{step}` | {m['seconds']:.1f} s | {ratio:.1f}x | "
                     f"<= {TARGETS[step]:.0f}x ({ok}) | {m['seconds'] / graph['seconds']:.1f}x "
                     f"| {m['peak_mb']:.0f} MB |")
        print(f"{name} {step}: {m['seconds']:.1f} s, {ratio:.1f}x, {m['peak_mb']:.0f} MB",
              flush=True)
    return [*lines, "", *grid_quality(name, tmp / f"{name}_grids.gpkg"), ""]


def grid_quality(name: str, path: Path) -> list[str]:
    """Return report lines judging the communities and grids the ``grids`` step wrote."""
    import geopandas as gpd

    comm = gpd.read_file(path, layer="communities", ignore_geometry=True)
    grids = gpd.read_file(path, layer="grids", ignore_geometry=True)
    dev = (comm["households"] / comm["households"].mean() - 1).abs() * 100
    out = int((grids["flag"].fillna("") != "").sum())
    return [f"{name}, the plan `grids` wrote:", "",
            "| communities | median / worst deviation from the mean community | beyond "
            "30 % | grids | grids outside 200-500 | median compactness, communities / "
            "grids |",
            "| ---: | ---: | ---: | ---: | ---: | ---: |",
            f"| {len(comm)} | {dev.median():.1f} % / {dev.max():.1f} % | "
            f"{int((dev > 30).sum())} | {len(grids)} | {out} | "
            f"{comm['compactness'].median():.3f} / {grids['compactness'].median():.3f} |"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("malta", "porto"), default=None)
    args = parser.parse_args()
    if not MALTA.exists():
        print(f"{SHARED} is absent: the city-scale extracts are needed.", file=sys.stderr)
        raise SystemExit(2)
    lines = [f"## Scale, {dt.date.today().isoformat()} ({platform.node()}, "
             f"{os.cpu_count()} cores, Python {platform.python_version()})", ""]
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if args.only in (None, "malta"):
            lines += run_extract("Malta", MALTA, tmp)
            agree = agreement_malta()
            lines += [f"Malta, health: {agree['covered_mismatches']} of "
                      f"{agree['homes_compared']} homes differ from networkx's covered flag "
                      f"(networkx took {agree['networkx_seconds']:.1f} s).", "",
                      "| circles | facilities | old way: a search and a union per facility "
                      "| this engine: one search, tiled | area difference |",
                      "| --- | ---: | ---: | ---: | ---: |"]
            for r in agree["circles"]:
                lines.append(f"| {r['category']} | {r['facilities']} | {r['slow_s']:.1f} s "
                             f"({r['slow_area_km2']:.2f} km2) | {r['fast_s']:.1f} s "
                             f"({r['fast_area_km2']:.2f} km2) | {r['area_diff_pct']:.3f} % |")
            lines.append("")
        if args.only in (None, "porto"):
            hp, fp = generate_porto(tmp)
            lines += run_extract("Porto (100,000 generated homes, 2,000 facilities)", PORTO,
                                 tmp, buildings=hp, facilities=fp)
    text = "\n".join(lines)
    print(text)
    with RESULTS.open("a", encoding="utf-8") as f:
        f.write("\n" + text + "\n")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
    else:
        main()
