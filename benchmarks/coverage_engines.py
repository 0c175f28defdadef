"""Benchmark the coverage engine against the usual approaches, in one process.

Run: ``make bench`` (or ``.venv/bin/python benchmarks/coverage_engines.py``). Appends a dated
section to benchmarks/RESULTS.md.

Part 1, the bundled central-Helsinki extract, every category with facilities, 800 m:

- tutorial: networkx ``ego_graph`` per facility (osmnx tutorial style), union of reached
  nodes; homes and facilities at their nearest network node;
- bare scipy: one ``scipy.sparse.csgraph.dijkstra(indices=..., min_only=True)`` on the
  same graph and the same nearest nodes (the practical floor);
- pandana ``nearest_pois`` (contraction hierarchies) if it installs, same nearest nodes;
- this engine in node mode (the same nearest nodes), which must give the same covered
  homes as all three, and in its real mode (attached to the nearest point on an edge,
  access legs counted), timed as search only and as the whole coverage step.

Part 2, a synthetic lattice of 1,000,000 nodes (80 m blocks, 3 % of edges removed) with
500,000 homes and 2,000 facilities, run in a child process so that its peak memory is
its own.
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
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gis.analysis.coverage import (
    CoverageOptions,
    area_summary,
    compute_coverage,
)
from gis.network.access import build_access  # noqa: E402
from gis.network.graph import Snap, WalkNetwork, network_from_streets  # noqa: E402
from gis.settings import load_settings  # noqa: E402

RESULTS = ROOT / "benchmarks" / "RESULTS.md"
CUTOFF_M = 800.0


def best_of(fn, repeat: int = 5) -> tuple[float, object]:
    """Return the best wall time in seconds of ``repeat`` runs, and the last result."""
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def node_snap(network: WalkNetwork, nodes: np.ndarray, index) -> Snap:
    """Attach points exactly at network nodes (access 0), as node-based tools do."""
    # An edge incident to each node, and whether the node is its u or its v end.
    first_edge = np.full(network.n_nodes, -1, dtype=np.int64)
    first_edge[network.edge_v[::-1]] = np.arange(network.n_edges)[::-1]
    first_edge[network.edge_u[::-1]] = np.arange(network.n_edges)[::-1]
    edge = first_edge[nodes]
    offset = np.where(network.edge_u[edge] == nodes, 0.0, network.edge_length_m[edge])
    zeros = np.zeros(nodes.size)
    return Snap(index, edge, offset, zeros, zeros.astype(bool))


def helsinki(repeat: int) -> dict:
    import networkx as nx
    from scipy.sparse.csgraph import dijkstra
    from scipy.spatial import cKDTree

    from gis.study import load_study

    settings = load_settings()
    t0 = time.perf_counter()
    study = load_study(None, settings)
    load_s = time.perf_counter() - t0
    net = study.network
    homes = study.homes
    fac = study.facilities
    cats = [c for c in settings.category_ids if (fac["category"] == c).any()]
    tree = cKDTree(net.node_xy)
    home_xy = np.column_stack([homes.geometry.centroid.x, homes.geometry.centroid.y])
    home_node = tree.query(home_xy)[1]
    fac_node = {c: tree.query(np.column_stack([fac[fac.category == c].geometry.x,
                                               fac[fac.category == c].geometry.y]))[1]
                for c in cats}
    csr = net._csr

    rows = {}
    covered = {}

    # tutorial: ego_graph per facility
    g = nx.Graph()
    g.add_weighted_edges_from(zip(net.edge_u.tolist(), net.edge_v.tolist(),
                                  net.edge_length_m.tolist(), strict=True), weight="length")

    def tutorial():
        out = {}
        for c in cats:
            reached: set[int] = set()
            for node in np.unique(fac_node[c]):
                reached.update(nx.ego_graph(g, int(node), radius=CUTOFF_M,
                                            distance="length").nodes)
            out[c] = np.isin(home_node, list(reached))
        return out

    rows["tutorial: networkx ego_graph per facility"], covered["tutorial"] = best_of(
        tutorial, 1)

    def bare():
        out = {}
        for c in cats:
            d = dijkstra(csr, directed=True, indices=np.unique(fac_node[c]), min_only=True,
                         limit=CUTOFF_M)
            out[c] = d[home_node] <= CUTOFF_M
        return out

    rows["bare scipy csgraph multi-source dijkstra"], covered["bare"] = best_of(bare, repeat)

    try:
        import pandana as pdna
        import pandas as pd

        t0 = time.perf_counter()
        pnet = pdna.Network(pd.Series(net.node_xy[:, 0]), pd.Series(net.node_xy[:, 1]),
                            pd.Series(net.edge_u), pd.Series(net.edge_v),
                            pd.DataFrame({"length": net.edge_length_m}), twoway=True)
        pnet.precompute(CUTOFF_M)
        for c in cats:
            xy = net.node_xy[fac_node[c]]
            pnet.set_pois(c, CUTOFF_M, 1, pd.Series(xy[:, 0]), pd.Series(xy[:, 1]))
        pandana_setup = time.perf_counter() - t0

        def pandana():
            out = {}
            for c in cats:
                d = pnet.nearest_pois(CUTOFF_M, c, num_pois=1)[1].to_numpy()
                out[c] = d[home_node] < CUTOFF_M
            return out

        rows["pandana nearest_pois"], covered["pandana"] = best_of(pandana, repeat)
        rows["pandana setup (network, precompute, set_pois)"] = pandana_setup
    except Exception as err:  # pandana is optional: report why it did not run
        rows[f"pandana: not run ({type(err).__name__}: {err})"] = float("nan")

    home_nodes_snap = node_snap(net, home_node, homes.index)

    def engine_nodes():
        out = {}
        for c in cats:
            src = node_snap(net, fac_node[c], np.arange(fac_node[c].size))
            nd = net.node_distances(src, limit_m=CUTOFF_M)
            out[c] = net.distances_to(home_nodes_snap, nd, src) <= CUTOFF_M
        return out

    rows["this engine, node mode (same nearest nodes)"], covered["engine_nodes"] = best_of(
        engine_nodes, repeat)

    fac_snaps = {c: net.snap(fac[fac.category == c], max_m=settings.snap_max_m) for c in cats}

    def engine_search():
        return {c: net.node_distances(fac_snaps[c], limit_m=CUTOFF_M) for c in cats}

    rows["this engine, search only (edge-attached facilities)"], _ = best_of(
        engine_search, repeat)

    def engine_step():
        access = build_access(net, homes, snap_max_m=settings.snap_max_m)
        res = compute_coverage(access, fac, settings,
                               CoverageOptions(categories=cats, metres=CUTOFF_M))
        area_summary(res)
        return res

    rows["this engine, whole coverage step (snap homes+facilities, search, tables)"], res = \
        best_of(engine_step, repeat)

    agree = {}
    for name in ("tutorial", "pandana", "engine_nodes"):
        if name in covered:
            agree[name] = int(sum((covered[name][c] != covered["bare"][c]).sum() for c in cats))
    hh = homes["households"].to_numpy()
    diff_pp = {c: round(100 * (hh[res.homes[f"covered_{c}"].to_numpy()].sum()
                               - hh[covered["bare"][c]].sum()) / hh.sum(), 1) for c in cats}
    return {"rows": rows, "mismatches_vs_bare": agree, "categories": cats,
            "homes": int(len(homes)), "nodes": net.n_nodes, "load_s": load_s,
            "edge_minus_node_pp": diff_pp}


def lattice_worker() -> None:
    """Run the 1,000,000-node lattice pipeline; print timings and peak memory as JSON."""
    import geopandas as gpd
    import shapely
    from scipy.sparse.csgraph import dijkstra

    rng = np.random.default_rng(42)
    n, step = 1000, 80.0
    timings = {}
    t_all = time.perf_counter()
    t0 = time.perf_counter()
    ii, jj = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    x, y = ii.ravel() * step, jj.ravel() * step
    idx = np.arange(n * n).reshape(n, n)
    a = np.concatenate([idx[:-1, :].ravel(), idx[:, :-1].ravel()])
    b = np.concatenate([idx[1:, :].ravel(), idx[:, 1:].ravel()])
    keep = rng.random(a.size) > 0.03
    a, b = a[keep], b[keep]
    lines = shapely.linestrings(np.stack([np.column_stack([x[a], y[a]]),
                                          np.column_stack([x[b], y[b]])], axis=1))
    streets = gpd.GeoDataFrame(geometry=lines, crs="EPSG:32650")
    homes = gpd.GeoDataFrame({"households": rng.integers(1, 200, 500_000)},
                             geometry=shapely.points(rng.random((500_000, 2)) * (n - 1) * step),
                             crs="EPSG:32650")
    fac = gpd.GeoDataFrame({"category": ["health"] * 2000},
                           geometry=shapely.points(rng.random((2000, 2)) * (n - 1) * step),
                           crs="EPSG:32650")
    timings["make lattice, homes, facilities"] = time.perf_counter() - t0
    settings = load_settings()
    t0 = time.perf_counter()
    net = network_from_streets(streets)
    timings["build network"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    access = build_access(net, homes, snap_max_m=settings.snap_max_m)
    timings["attach 500,000 homes (once per study area)"] = time.perf_counter() - t0

    def step_fn():
        res = compute_coverage(access, fac, settings,
                               CoverageOptions(categories=["health"], metres=CUTOFF_M))
        return area_summary(res)

    timings["coverage step, one category (facilities, search, tables)"], summary = best_of(
        step_fn, 3)
    fsnap = net.snap(fac, max_m=settings.snap_max_m)
    timings["engine search only (unbounded)"], _ = best_of(
        lambda: net.node_distances(fsnap), 3)
    nodes = np.unique(net.edge_u[fsnap.edge])
    timings["bare scipy multi-source dijkstra (unbounded)"], _ = best_of(
        lambda: dijkstra(net._csr, directed=True, indices=nodes, min_only=True), 3)
    timings["load to result, whole pipeline"] = time.perf_counter() - t_all
    print(json.dumps({
        "timings": timings,
        "nodes": net.n_nodes, "edges": net.n_edges,
        "share_covered": float(summary.iloc[0]["share_covered"]),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lattice-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--skip-lattice", action="store_true")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if args.lattice_worker:
        lattice_worker()
        return
    hel = helsinki(args.repeat)
    lat = None
    if not args.skip_lattice:
        proc = subprocess.run([sys.executable, __file__, "--lattice-worker"],
                              capture_output=True, text=True, check=True)
        lat = json.loads(proc.stdout.strip().splitlines()[-1])
    report = render(hel, lat, args)
    print(report)
    with RESULTS.open("a", encoding="utf-8") as f:
        f.write(report + "\n")


def render(hel: dict, lat: dict | None, args: argparse.Namespace) -> str:
    rows = hel["rows"]
    bare = rows["bare scipy csgraph multi-source dijkstra"]
    cmd = "python benchmarks/coverage_engines.py" + (" --skip-lattice" if args.skip_lattice else "")
    out = [f"## Coverage, {dt.datetime.now():%Y-%m-%d %H:%M}",
           "",
           f"Command: `{cmd}` (best of {args.repeat}; tutorial once). Machine: "
           f"{os.cpu_count()} cores, Python {platform.python_version()}.",
           "",
           f"### Central Helsinki: {hel['nodes']} nodes, {hel['homes']} homes, categories "
           f"{', '.join(hel['categories'])}, {CUTOFF_M:.0f} m",
           "",
           "| approach | time | vs bare scipy |",
           "| --- | ---: | ---: |"]
    for name, sec in rows.items():
        ratio = f"{sec / bare:.1f}x" if np.isfinite(sec) else ""
        out.append(f"| {name} | {sec * 1000:.1f} ms | {ratio} |")
    out += ["",
            f"Study load (parse extract, network, households, attach homes): "
            f"{hel['load_s']:.2f} s.",
            "Homes whose covered flag differs from bare scipy (all categories together; "
            "0 means the same covered homes): "
            + ", ".join(f"{k} {v}" for k, v in hel["mismatches_vs_bare"].items()) + ".",
            "Coverage with homes and facilities attached to the nearest point on an edge, "
            "minus nearest-node coverage, percentage points of households: "
            + ", ".join(f"{k} {v:+.1f}" for k, v in hel["edge_minus_node_pp"].items()) + "."]
    if lat:
        out += ["",
                f"### Synthetic lattice: {lat['nodes']:,} nodes, {lat['edges']:,} edges, "
                "500,000 homes, 2,000 facilities, 800 m",
                "",
                "| step | time |",
                "| --- | ---: |"]
        for name, sec in lat["timings"].items():
            out.append(f"| {name} | {sec:.2f} s |")
        out += ["", f"Peak memory of the whole lattice process: {lat['peak_rss_mb']:.0f} MB. "
                    f"Share of households covered: {lat['share_covered'] * 100:.1f} %."]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    main()
