"""One access model for every analysis: gates and the snap limit hold everywhere.

Each analysis that starts from a coverage result (circles, households served, gaps,
candidates, siting, what-if, scenario comparison) must give the same answer for a home as
a full recompute with the same access model.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point, box

from gis.analysis.coverage import (
    CoverageOptions,
    compute_coverage,
    households_served,
    service_circles,
)
from gis.analysis.gaps import find_gaps
from gis.network.access import build_access
from gis.network.compounds import compounds_from_layers
from gis.network.graph import network_from_streets
from gis.planning.scenarios import Change, Scenario, WhatIf, compare_scenarios
from gis.planning.siting import plan_sites
from tests.conftest import UTM, access_of, points, streets


@pytest.fixture
def two_streets():
    """A south street (y = 0) and a north street (y = 300), joined 1 km to the west.

    A walled compound (0,20)-(200,280) lies between them with one gate, on its north wall.
    """
    return network_from_streets(streets([(-1000, 0), (400, 0)], [(-1000, 300), (400, 300)],
                                        [(-1000, 0), (-1000, 300)]))


def _north_gate_compound():
    area = gpd.GeoDataFrame(geometry=[box(0, 20, 200, 280)], crs=UTM)
    gates = gpd.GeoDataFrame({"night_closed": [False]}, geometry=[Point(100, 280)], crs=UTM)
    return compounds_from_layers(area, gates)


def _gated_case(two_streets, settings):
    homes = points([(100, 40)], households=[50])  # inside, by the south wall
    fac = points([(-900, 150)], category=["health"], name=["far clinic"])
    access = access_of(two_streets, homes, settings, compounds=_north_gate_compound())
    return compute_coverage(access, fac, settings,
                            CoverageOptions(categories=["health"], metres=300))


def test_siting_honours_the_gates_of_a_compound(two_streets, settings):
    res = _gated_case(two_streets, settings)
    assert not res.homes["covered_health"].iloc[0]
    plan = plan_sites(res, "health", settings, k=1)
    # The site must be where the home can really walk to: by its north gate (a site on
    # the south street beside the wall would be a 2.5 km detour away).
    site = plan.sites.geometry.iloc[0]
    assert site.y > 150
    assert plan.newly_covered == 50 == plan.exact.objective
    both = pd.concat([res.facilities[["category", "name", "geometry"]],
                      gpd.GeoDataFrame({"category": ["health"], "name": ["new"]},
                                       geometry=[site], crs=UTM)], ignore_index=True)
    check = res.with_facilities(gpd.GeoDataFrame(both, crs=UTM), settings)
    assert bool(check.homes["covered_health"].iloc[0])


def test_what_if_honours_the_gates_of_a_compound(two_streets, settings):
    res = _gated_case(two_streets, settings)
    what = WhatIf(res, "health", settings)
    beside_the_wall = what.add(100, -5)  # south street: behind the wall for the home
    assert beside_the_wall.households_gained == 0
    by_the_gate = what.add(100, 305)
    assert by_the_gate.households_gained == 50


def test_scenario_comparison_honours_the_gates_of_a_compound(two_streets, settings):
    res = _gated_case(two_streets, settings)
    south = Scenario("south", (Change("add", "health", x=100, y=-5),))
    north = Scenario("north", (Change("add", "health", x=100, y=305),))
    table = compare_scenarios(res, settings, south, north).set_index("category")
    assert table.loc["health", "households_a"] == 0
    assert table.loc["health", "households_b"] == 50


def test_a_non_default_snap_limit_reaches_households_served_and_circles(straight_street,
                                                                       settings):
    # 300 m off the street: attached only with a snap limit above the default 250 m.
    homes = points([(500, 300), (1500, 10)], households=[40, 7])
    fac = points([(400, 0)], category=["health"], name=["clinic"])
    access = access_of(straight_street, homes, settings, snap_max_m=400)
    res = compute_coverage(access, fac, settings,
                           CoverageOptions(categories=["health"], metres=800))
    assert res.homes["covered_health"].tolist() == [True, False]
    assert households_served(res, "health").tolist() == [40]
    circles = service_circles(res, settings)
    assert circles["households"].tolist() == [40]


def test_a_strict_snap_limit_holds_for_the_gaps_and_new_stations(straight_street, settings):
    # With a 30 m limit the home 60 m off the street is not attached: not a gap, and a
    # station clicked 60 m off the street is refused as it would be by the engine.
    homes = points([(500, 60), (1500, 10)], households=[40, 7])
    fac = points([(0, 0)], category=["health"], name=["clinic"])
    access = access_of(straight_street, homes, settings, snap_max_m=30)
    res = compute_coverage(access, fac, settings,
                           CoverageOptions(categories=["health"], metres=300))
    gaps = find_gaps(res, "health", settings)
    assert gaps.homes.index.tolist() == [1]
    what = WhatIf(res, "health", settings)
    with pytest.raises(Exception, match="limit 30 m"):
        what.add(1500, 60)


def _long_street_and_a_side_street():
    """A 2 km street without crossings (one edge) and a side street at its west end."""
    return network_from_streets(streets([(0, 0), (2000, 0)], [(0, 0), (0, 1000)]))


@pytest.mark.parametrize(("side_m", "n_gaps"), [(40, 1), (60, 2)])
def test_gaps_link_a_home_deep_in_a_long_street_through_its_end(settings, side_m, n_gaps):
    # Home A is 150 m along the long street, farther than half the link distance (100 m)
    # from either end; home B is side_m up the side street. Along the streets they are
    # 150 + side_m apart: one gap within 200 m, two beyond.
    net = _long_street_and_a_side_street()
    homes = points([(150, 10), (-10, side_m)], households=[30, 20])
    fac = points([(2000, 5)], category=["health"], name=["far"])
    res = compute_coverage(access_of(net, homes, settings), fac, settings,
                           CoverageOptions(categories=["health"], metres=300))
    gaps = find_gaps(res, "health", settings, link_m=200)
    assert len(gaps.areas) == n_gaps


def test_a_home_beside_a_long_street_gets_candidates_on_that_street(settings):
    # 10 m from a 2 km street with no crossing within the 300 m threshold.
    net = network_from_streets(streets([(0, 0), (2000, 0)]))
    homes = points([(1000, 10)], households=[60])
    fac = points([(0, 5)], category=["health"], name=["far"])
    res = compute_coverage(access_of(net, homes, settings), fac, settings,
                           CoverageOptions(categories=["health"], metres=300))
    plan = plan_sites(res, "health", settings, k=1)
    assert plan.newly_covered == 60
    assert abs(plan.sites.geometry.iloc[0].x - 1000) <= 300


# -- property: every path agrees with a full recompute ------------------------------------


@st.composite
def gated_towns(draw):
    """A 5 x 5 lattice of 100 m streets with gaps, a compound, homes and facilities."""
    keep = draw(st.lists(st.booleans(), min_size=40, max_size=40))
    lines = []
    k = 0
    for i in range(5):
        for j in range(5):
            for di, dj in ((1, 0), (0, 1)):
                if i + di < 5 and j + dj < 5:
                    if keep[k % 40] or (i == 0 or j == 0):  # the edges along two sides stay
                        lines.append(LineString([(i * 100, j * 100),
                                                 ((i + di) * 100, (j + dj) * 100)]))
                    k += 1
    coord = st.floats(-60, 460, allow_nan=False)
    homes = draw(st.lists(st.tuples(coord, coord, st.integers(1, 80)), min_size=2,
                          max_size=12))
    facs = draw(st.lists(st.tuples(coord, coord), min_size=1, max_size=3))
    adds = draw(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=1,
                         max_size=3))
    cx, cy = draw(st.integers(0, 3)), draw(st.integers(0, 3))
    gate_sides = draw(st.lists(st.sampled_from(["s", "n", "w", "e"]), max_size=3,
                               unique=True))
    snap = draw(st.sampled_from([40.0, 70.0, 400.0]))
    threshold = draw(st.sampled_from([150.0, 300.0]))
    return lines, homes, facs, adds, (cx, cy), gate_sides, snap, threshold


@hyp_settings(max_examples=40, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                     HealthCheck.function_scoped_fixture])
@given(town=gated_towns())
def test_what_if_siting_and_scenarios_equal_a_full_recompute(town, settings):
    lines, homes_t, facs_t, adds, (cx, cy), sides, snap, threshold = town
    net = network_from_streets(gpd.GeoDataFrame(geometry=lines, crs=UTM))
    homes = points([(x, y) for x, y, _h in homes_t], households=[h for *_xy, h in homes_t])
    fac = points(facs_t, category=["health"] * len(facs_t),
                 name=[f"f{i}" for i in range(len(facs_t))])
    # A compound inside one lattice cell, its gates in the middle of the chosen walls.
    x0, y0 = cx * 100 + 10, cy * 100 + 10
    area = gpd.GeoDataFrame(geometry=[box(x0, y0, x0 + 80, y0 + 80)], crs=UTM)
    where = {"s": (x0 + 40, y0), "n": (x0 + 40, y0 + 80), "w": (x0, y0 + 40),
             "e": (x0 + 80, y0 + 40)}
    gates = gpd.GeoDataFrame({"night_closed": [False] * len(sides)},
                             geometry=[Point(where[s]) for s in sides], crs=UTM)
    access = build_access(net, homes, snap_max_m=snap,
                          compounds=compounds_from_layers(area, gates))
    res = compute_coverage(access, fac, settings,
                           CoverageOptions(categories=["health"], metres=threshold))
    added = [(i * 100.0 + 50.0, j * 100.0) for i, j in adds]

    # Full recompute with the stations added, on the same access model.
    new = points(added, category=["health"] * len(added), name=["new"] * len(added))
    full = res.with_facilities(gpd.GeoDataFrame(pd.concat([fac, new], ignore_index=True),
                                                crs=UTM), settings)
    want = full.homes["covered_health"].to_numpy()

    # What-if, one bounded search per station.
    what = WhatIf(res, "health", settings)
    for x, y in added:
        if access.snap(gpd.GeoSeries([Point(x, y)], crs=UTM)).ok[0]:
            what.add(x, y)
    got = np.zeros(len(res.homes), dtype=bool)
    got[res.homes.index.get_indexer(what.homes_index)] = what.covered
    snapped = np.array([access.snap(gpd.GeoSeries([Point(p)], crs=UTM)).ok[0]
                        for p in added])
    if snapped.all():
        np.testing.assert_array_equal(got, want)

    # Scenario comparison, a full recompute of its own.
    scen = Scenario("s", tuple(Change("add", "health", x=x, y=y) for x, y in added))
    table = compare_scenarios(res, settings, Scenario("base"), scen).set_index("category")
    hh = res.homes["households"].to_numpy()
    assert table.loc["health", "households_b"] == int(hh[want].sum())
    assert table.loc["health", "households_a"] == int(
        hh[res.homes["covered_health"].to_numpy()].sum())

    # Siting: the model's gain is what the engine's recheck confirms.
    if (res.homes["attached"] & ~res.homes["covered_health"]).any():
        try:
            plan = plan_sites(res, "health", settings, k=1)
        except Exception as err:  # nothing reachable to site for: a clear refusal
            assert "candidate" in str(err) or "attached" in str(err)
        else:
            assert plan.newly_covered == pytest.approx(plan.exact.objective)


def _reference_gaps(net, access, link_m):
    """Single linkage of the homes' attachment points by networkx distances along streets."""
    import networkx as nx

    g = nx.Graph()
    on_edge: dict[int, list[tuple[float, object]]] = {}
    for k in range(access.exits.edge.size):
        e, t = int(access.exits.edge[k]), float(access.exits.offset_m[k])
        on_edge.setdefault(e, []).append((t, ("x", k)))
    for e in range(net.n_edges):
        u, v, ln = int(net.edge_u[e]), int(net.edge_v[e]), float(net.edge_length_m[e])
        stops = [(0.0, u), *sorted(on_edge.get(e, []), key=lambda p: p[0]), (ln, v)]
        for (t0, a), (t1, b) in zip(stops, stops[1:], strict=False):
            w = t1 - t0
            if not g.has_edge(a, b) or g[a][b]["weight"] > w:
                g.add_edge(a, b, weight=w)
    n = access.n_homes
    parent = list(range(n))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for k in range(access.exits.edge.size):
        dist = nx.single_source_dijkstra_path_length(g, ("x", k), cutoff=link_m + 1e-9)
        for node in dist:
            if isinstance(node, tuple) and node[0] == "x":
                a, b = find(int(access.exit_home[k])), find(int(access.exit_home[node[1]]))
                parent[a] = b
    return np.array([find(i) for i in range(n)])


@hyp_settings(max_examples=60, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(town=gated_towns(), link=st.sampled_from([80.0, 150.0, 200.0, 350.0]))
def test_gap_linking_equals_networkx_single_linkage(town, link, settings):
    from gis.analysis.gaps import _link_along_streets

    lines, homes_t, *_rest = town
    net = network_from_streets(gpd.GeoDataFrame(geometry=lines, crs=UTM))
    homes = points([(x, y) for x, y, _h in homes_t], households=[h for *_xy, h in homes_t])
    access = build_access(net, homes, snap_max_m=400.0)
    got = _link_along_streets(access, link)
    want = _reference_gaps(net, access, link)
    # Same partition: two homes share a gap exactly when the reference links them.
    same_got = got[:, None] == got[None, :]
    same_want = want[:, None] == want[None, :]
    np.testing.assert_array_equal(same_got, same_want)


def test_loading_one_area_does_not_block_a_session_that_asks_for_another(monkeypatch,
                                                                         settings):
    import threading
    import time

    import gis.study as study_mod

    started = threading.Event()
    release = threading.Event()

    def fake_load(source, _settings, **_kw):
        if source == "slow":
            started.set()
            release.wait(10)
        return f"study of {source}"

    monkeypatch.setattr(study_mod, "load_study", fake_load)
    cache = study_mod.StudyCache(lambda: settings)
    slow = threading.Thread(target=cache.get, args=(("slow", None, None, None, None),))
    slow.start()
    assert started.wait(5)
    t0 = time.perf_counter()
    other = cache.get(("fast", None, None, None, None))
    waited = time.perf_counter() - t0
    release.set()
    slow.join(5)
    assert other == "study of fast"
    assert waited < 5  # not held up by the slow area
    assert cache.get(("slow", None, None, None, None)) == "study of slow"


def test_two_islands_are_both_kept_and_each_walks_to_its_own_facility(settings):
    # Two islands 5 km apart, each 3 km of streets; a clinic only on the west island.
    west = [[(x, 0), (x + 500, 0)] for x in range(0, 3000, 500)]
    east = [[(x, 0), (x + 500, 0)] for x in range(8000, 11000, 500)]
    net = network_from_streets(streets(*west, *east), min_piece_m=2000)
    assert net.n_pieces == 2 and net.n_dropped_nodes == 0
    homes = points([(100, 10), (2900, 10), (8100, 10), (9000, 10)],
                   households=[10, 20, 30, 40])
    fac = points([(50, 5), (8050, 5)], category=["health", "catering"], name=["w", "e"])
    res = compute_coverage(access_of(net, homes, settings), fac, settings,
                           CoverageOptions(categories=["health", "catering"], metres=20_000))
    # Every home is attached and analysed; the east island's homes cannot reach the
    # west island's clinic (no walk across the sea), and the west's not the east's shop.
    assert res.homes["attached"].all()
    assert res.homes["covered_health"].tolist() == [True, True, False, False]
    assert res.homes["covered_catering"].tolist() == [False, False, True, True]
    assert np.isinf(res.homes["dist_m_health"].iloc[2])


def test_the_load_report_names_each_piece(tmp_path, settings):
    from gis.study import load_study

    # Two separate street grids in one GeoPackage study area (a town and an island).
    lines = []
    for ox in (0, 6000):
        lines += [LineString([(ox + x, y), (ox + x + 100, y)]) for x in range(0, 1000, 100)
                  for y in (0, 100, 200)]
        lines += [LineString([(ox + x, y), (ox + x, y + 100)]) for x in range(0, 1100, 100)
                  for y in (0, 100)]
    gpd.GeoDataFrame({"highway": ["residential"] * len(lines)}, geometry=lines,
                     crs="EPSG:32633").to_crs(4326).to_file(tmp_path / "a.gpkg",
                                                            layer="streets")
    blds = gpd.GeoDataFrame({"households": [50, 60]},
                            geometry=[box(500, 40, 520, 60), box(6500, 40, 6520, 60)],
                            crs="EPSG:32633").to_crs(4326)
    blds.to_file(tmp_path / "a.gpkg", layer="buildings")
    study = load_study(str(tmp_path / "a.gpkg"), settings)
    pieces = study.pieces()
    assert study.network.n_pieces == 2
    assert pieces["homes"].tolist() == [1, 1]
    assert sorted(pieces["households"].tolist()) == [50, 60]
    report = dict(zip([str(i) for i in study.report()["item"]], study.report()["value"],
                      strict=True))
    assert report["network pieces kept (each analysed on its own)"] == 2
    assert len(study.piece_warnings()) == 2  # neither piece has a facility


@hyp_settings(max_examples=40, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(town=gated_towns(), limit=st.sampled_from([60.0, 150.0, 400.0]))
def test_pair_distances_equal_one_full_search_per_source(town, limit):
    lines, homes_t, facs_t, _adds, (cx, cy), sides, snap, _thr = town
    net = network_from_streets(gpd.GeoDataFrame(geometry=lines, crs=UTM))
    homes = points([(x, y) for x, y, _h in homes_t], households=[h for *_xy, h in homes_t])
    x0, y0 = cx * 100 + 10, cy * 100 + 10
    area = gpd.GeoDataFrame(geometry=[box(x0, y0, x0 + 80, y0 + 80)], crs=UTM)
    gates = gpd.GeoDataFrame({"night_closed": [False] * len(sides)},
                             geometry=[Point(x0 + 40, y0 if s == "s" else y0 + 80)
                                       for s in sides], crs=UTM)
    access = build_access(net, homes, snap_max_m=snap,
                          compounds=compounds_from_layers(area, gates))
    fsnap = access.snap(points(facs_t))
    s_pos, h_pos, dist = access.pair_distances(fsnap, limit_m=limit)
    got = {(int(a), int(b)): d for a, b, d in zip(s_pos, h_pos, dist, strict=True)}
    want = {}
    for j in np.flatnonzero(fsnap.ok):
        one = fsnap.subset(np.array([j]))
        d = access.home_distances(net.node_distances(one), one)[0]
        for i in np.flatnonzero(np.nan_to_num(d, nan=np.inf) <= limit):
            want[(int(j), int(i))] = d[i]
    assert set(got) == set(want)
    for key, d in want.items():
        assert got[key] == pytest.approx(d, abs=1e-6)


@hyp_settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), limit=st.sampled_from([0.0, 3.0, 10.0, 1e9]))
def test_compiled_searches_equal_scipy_per_source(seed, limit):
    # The compiled loop against scipy's Dijkstra on random graphs: one target at every
    # node (its own group), several sources searched one after another in one call (a
    # search that left distances behind would spoil the next).
    import scipy.sparse as sp
    from scipy.sparse.csgraph import dijkstra

    from gis.network._compiled import pairs_within

    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 40))
    m = int(rng.integers(1, 3 * n))
    u, v = rng.integers(0, n, m), rng.integers(0, n, m)
    w = rng.uniform(0.1, 5.0, m)
    keep = u != v
    graph = sp.coo_matrix((np.r_[w[keep], w[keep]], (np.r_[u[keep], v[keep]],
                                                      np.r_[v[keep], u[keep]])),
                          shape=(n, n)).tocsr()
    graph.sum_duplicates()
    k = int(rng.integers(1, 6))
    starts = rng.integers(0, n, (k, 2))  # both ends may be the same node (a loop)
    start_d = rng.uniform(0.0, 4.0, (k, 2))
    ids = np.arange(n, dtype=np.int64)
    no_edge = np.zeros(2, dtype=np.int64)  # no target lies on a source's street
    src, node, dist = pairs_within(
        graph.indptr, graph.indices, graph.data, np.arange(0, 2 * k + 1, 2, dtype=np.int64),
        starts.ravel().astype(np.int64), start_d.ravel(), limit,
        np.arange(n + 1, dtype=np.int64), ids, np.zeros(n), np.zeros(k, dtype=np.int64),
        np.zeros(k), np.zeros(k), no_edge, np.zeros(0, dtype=np.int64), np.zeros(n),
        np.zeros(n), ids, n)
    for s in range(k):
        # scipy: a virtual source joined to the two start nodes (the nearer of a loop's).
        a, b = starts[s]
        da, db = start_d[s]
        cols, ws = ([a], [min(da, db)]) if a == b else ([a, b], [da, db])
        coo = graph.tocoo()
        ext = sp.csr_matrix((np.r_[coo.data, ws], (np.r_[coo.row, [n] * len(cols)],
                                                   np.r_[coo.col, cols])), shape=(n + 1, n + 1))
        want = dijkstra(ext, directed=True, indices=n)[:n]
        reached = np.flatnonzero(want <= limit)
        assert node[src == s].tolist() == reached.tolist()  # in increasing order
        assert np.allclose(dist[src == s], want[reached], atol=1e-9)


def test_searches_shared_by_the_cores_give_the_same_pairs_in_the_same_order(monkeypatch):
    # Many sources: the bounded searches run in consecutive runs on every core and are
    # joined; the pairs, their order and their distances are those of one run.
    import gis.network.graph

    rng = np.random.default_rng(7)
    lines = [LineString([(0, y), (900, y)]) for y in range(0, 901, 100)]
    lines += [LineString([(x, 0), (x, 900)]) for x in range(0, 901, 100)]
    net = network_from_streets(gpd.GeoDataFrame(geometry=lines, crs=UTM))
    homes = points([tuple(xy) for xy in rng.uniform(0, 900, (300, 2))],
                   households=[1] * 300)
    access = build_access(net, homes, snap_max_m=80.0)
    sources = access.snap(points([tuple(xy) for xy in rng.uniform(0, 900, (500, 2))]))
    monkeypatch.setattr(gis.network.graph, "PARALLEL_SEARCHES_ABOVE", 10**9)
    one = access.pair_distances(sources, limit_m=250.0)
    monkeypatch.setattr(gis.network.graph, "PARALLEL_SEARCHES_ABOVE", 50)
    monkeypatch.setattr(gis.network.graph.os, "cpu_count", lambda: 3)
    shared = access.pair_distances(sources, limit_m=250.0)
    assert one[0].size > 1000
    for a, b in zip(one, shared, strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_snap_shared_by_the_cores_attaches_every_point_as_one_query_does(monkeypatch):
    # Many points: the nearest-edge queries run in consecutive runs on every core and
    # are joined; each point's edge, offset and distance are those of one query (a run
    # joined at the wrong place would attach points to their neighbours' edges).
    import gis.network.graph

    rng = np.random.default_rng(11)
    lines = [LineString([(x, y), (x + 100, y)]) for y in range(0, 901, 100)
             for x in range(0, 900, 100)]
    lines += [LineString([(x, y), (x, y + 100)]) for x in range(0, 901, 100)
              for y in range(0, 900, 100)]
    net = network_from_streets(gpd.GeoDataFrame(geometry=lines, crs=UTM))
    pts = points([tuple(xy) for xy in rng.uniform(-50, 950, (1000, 2))])
    monkeypatch.setattr(gis.network.graph, "PARALLEL_SNAP_ABOVE", 10**9)
    one = net.snap(pts, max_m=40.0)
    monkeypatch.setattr(gis.network.graph, "PARALLEL_SNAP_ABOVE", 100)
    monkeypatch.setattr(gis.network.graph.os, "cpu_count", lambda: 3)
    shared = net.snap(pts, max_m=40.0)
    assert (~one.too_far).sum() > 500 and one.too_far.any()
    for name in ("edge", "offset_m", "access_m", "too_far"):
        np.testing.assert_array_equal(getattr(one, name), getattr(shared, name))


@hyp_settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_street_parts_equal_shapely_substring(seed):
    # The vectorised cut of the reachable streets against shapely's own substring, with
    # whole lines (kept as they are), parts from either end, inner parts and empty ranges
    # (end before start) mixed in one call.
    from shapely.ops import substring

    from gis.network.graph import substrings

    rng = np.random.default_rng(seed)
    lines = np.array([LineString(np.cumsum(rng.uniform(-20, 20, (int(rng.integers(2, 7)), 2)),
                                           axis=0)) for _ in range(6)], dtype=object)
    length = np.array([g.length for g in lines])
    k = 30
    which = rng.integers(0, lines.size, k)
    start = rng.uniform(0, 1, k) * length[which]
    end = rng.uniform(0, 1, k) * length[which]
    kind = rng.integers(0, 4, k)
    start[kind == 0], end[kind == 0] = 0.0, length[which][kind == 0]  # the whole line
    start[kind == 1] = 0.0
    end[kind == 2] = length[which][kind == 2]
    got = substrings(lines, which, start, end)
    for g, w, a, b in zip(got, which, start, end, strict=True):
        if b <= a + 1e-9:
            assert g.is_empty
            continue
        want = substring(lines[w], a, b)
        assert g.length == pytest.approx(want.length, abs=1e-6)
        assert g.hausdorff_distance(want) < 1e-6
        assert g.coords[0] == pytest.approx(want.coords[0], abs=1e-6)
