"""Coverage engine on hand-made networks with known answers, and against networkx."""

from __future__ import annotations

import math

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, assume, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point, box

from gis._errors import CRSMismatchError, InputError, NoReachableFacilityError, SettingsError
from gis.analysis.coverage import (
    CoverageOptions,
    area_summary,
    category_circle,
    compute_coverage,
    service_circles,
    zone_summary,
)
from gis.network.graph import network_from_streets
from tests.conftest import UTM, access_of, points, streets


def _homes(rows, households=None):
    return points(rows, households=households or [10] * len(rows))


def _facilities(rows, category="health"):
    return points(rows, category=[category] * len(rows), name=[f"f{i}" for i in
                                                                  range(len(rows))])


def test_home_at_790_m_is_covered_and_at_810_m_is_not(straight_street, settings):
    # Access legs of 10 m: 780 + 10 = 790 m, 800 + 10 = 810 m.
    homes = _homes([(780, 10), (800, 10)])
    fac = _facilities([(0, 0)])
    res = compute_coverage(access_of(straight_street, homes, settings), fac, settings,
                           CoverageOptions(categories=["health"]))
    dist = res.homes["dist_m_health"].to_numpy()
    assert dist == pytest.approx([790, 810])
    assert res.homes["covered_health"].tolist() == [True, False]
    assert res.homes["time_min_health"].to_numpy() == pytest.approx([790 / 80, 810 / 80])


def test_nearest_of_two_facilities_wins(straight_street, settings):
    homes = _homes([(700, 0)])
    fac = _facilities([(0, 0), (1000, 0)])
    res = compute_coverage(access_of(straight_street, homes, settings), fac, settings,
                           CoverageOptions(categories=["health"]))
    assert res.homes["dist_m_health"].iloc[0] == pytest.approx(300)


def test_access_legs_of_home_and_facility_are_counted(straight_street, settings):
    homes = _homes([(350, 30)])
    fac = _facilities([(120, -40)])
    res = compute_coverage(access_of(straight_street, homes, settings), fac, settings,
                           CoverageOptions(categories=["health"]))
    assert res.homes["dist_m_health"].iloc[0] == pytest.approx(30 + 230 + 40)


def test_home_and_facility_on_one_edge_walk_straight_along_it(straight_street, settings):
    # Both inside the edge (300, 400): 20 m apart along it, no detour through a node.
    homes = _homes([(340, 5)])
    fac = _facilities([(360, 5)])
    res = compute_coverage(access_of(straight_street, homes, settings), fac, settings,
                           CoverageOptions(categories=["health"]))
    assert res.homes["dist_m_health"].iloc[0] == pytest.approx(5 + 20 + 5)


def test_elderly_profile_shrinks_coverage(straight_street, settings):
    homes = _homes([(200, 0), (500, 0), (700, 0)])
    fac = _facilities([(0, 0)])
    adult = compute_coverage(access_of(straight_street, homes, settings), fac, settings,
                             CoverageOptions(categories=["health"]))
    elderly = compute_coverage(access_of(straight_street, homes, settings), fac, settings,
                               CoverageOptions(categories=["health"], profile="elderly"))
    # 10 minutes: 800 m for adults, 600 m at 60 m/min.
    assert adult.homes["covered_health"].tolist() == [True, True, True]
    assert elderly.homes["covered_health"].tolist() == [True, True, False]
    assert elderly.homes["time_min_health"].iloc[2] == pytest.approx(700 / 60)
    assert elderly.share_covered["health"] < adult.share_covered["health"]


@pytest.mark.parametrize("options", [CoverageOptions(profile="elderly"),
                                     CoverageOptions(metres=450),
                                     CoverageOptions(minutes=8, profile="frail")])
def test_new_thresholds_from_the_distances_equal_a_new_run(straight_street, settings,
                                                           options):
    # Homes near and far, one beyond the snap limit, a category without facilities (left
    # out of the full circle): the result at other thresholds, without a search, is a
    # new run's.
    import pandas as pd

    homes = _homes([(100, 0), (450, 0), (700, 0), (1200, 0), (300, 400)],
                   households=[5, 10, 20, 40, 80])
    fac = gpd.GeoDataFrame({"category": ["health", "catering"]},
                           geometry=[Point(0, 0), Point(900, 0)], crs=UTM)
    access = access_of(straight_street, homes, settings)
    cats = ["health", "catering", "elderly_care"]
    adult = compute_coverage(access, fac, settings, CoverageOptions(categories=cats))
    want = compute_coverage(access, fac, settings, CoverageOptions(
        categories=cats, minutes=options.minutes, metres=options.metres,
        profile=options.profile))
    got = adult.with_thresholds(settings, options)
    pd.testing.assert_frame_equal(pd.DataFrame(got.homes), pd.DataFrame(want.homes))
    assert got.thresholds == want.thresholds and got.profile == want.profile
    assert not got.homes["covered_health"].equals(adult.homes["covered_health"])
    assert adult.thresholds["health"].metres == 800  # the first result is not changed
    assert area_summary(got).equals(area_summary(want))


def test_metres_threshold_overrides_minutes(straight_street, settings):
    homes = _homes([(450, 0)])
    fac = _facilities([(0, 0)])
    res = compute_coverage(access_of(straight_street, homes, settings), fac, settings,
                           CoverageOptions(categories=["health"], metres=500))
    assert res.thresholds["health"].metres == 500
    assert bool(res.homes["covered_health"].iloc[0])
    res = compute_coverage(access_of(straight_street, homes, settings), fac, settings,
                           CoverageOptions(categories=["health"], metres=400))
    assert not bool(res.homes["covered_health"].iloc[0])


def test_home_far_from_network_is_left_out_with_a_reason(straight_street, settings):
    homes = _homes([(100, 10), (100, 400)], households=[10, 25])
    fac = _facilities([(0, 0)])
    res = compute_coverage(access_of(straight_street, homes, settings), fac, settings,
                           CoverageOptions(categories=["health"]))
    assert res.homes["attached"].tolist() == [True, False]
    assert "250 m" in res.homes["reason"].iloc[1]
    assert math.isnan(res.homes["dist_m_health"].iloc[1])
    summary = area_summary(res).set_index("category")
    assert summary.loc["health", "households"] == 10
    assert summary.loc["health", "households_left_out"] == 25


def test_full_circle_needs_every_category(straight_street, settings):
    homes = _homes([(100, 0), (1500, 0)])
    fac = gpd.GeoDataFrame(
        {"category": ["health", "catering"]},
        geometry=[Point(0, 0), Point(1900, 0)], crs=UTM)
    res = compute_coverage(access_of(straight_street, homes, settings), fac, settings,
                           CoverageOptions(categories=["health", "catering"]))
    assert res.homes["n_covered"].tolist() == [1, 1]
    assert res.homes["full_circle"].tolist() == [False, False]
    fac2 = gpd.GeoDataFrame({"category": ["health", "catering"]},
                            geometry=[Point(0, 0), Point(300, 0)], crs=UTM)
    res2 = compute_coverage(access_of(straight_street, homes, settings), fac2, settings,
                            CoverageOptions(categories=["health", "catering"]))
    assert res2.homes["full_circle"].tolist() == [True, False]


def test_category_without_facilities_covers_nobody(straight_street, settings):
    homes = _homes([(100, 0)])
    fac = _facilities([(0, 0)], category="health")
    res = compute_coverage(access_of(straight_street, homes, settings), fac, settings,
                           CoverageOptions(categories=["health", "elderly_care"]))
    assert np.isinf(res.homes["dist_m_elderly_care"].iloc[0])
    assert not res.homes["covered_elderly_care"].iloc[0]
    # Nobody is covered, and the share is unknown ("no data"), not 0 %.
    assert np.isnan(res.share_covered["elderly_care"])
    assert res.no_data == ("elderly_care",)


def test_coverage_rejects_crs_mismatch(straight_street, settings):
    homes = _homes([(100, 0)]).to_crs("EPSG:4326")
    with pytest.raises(CRSMismatchError, match="to_local"):
        compute_coverage(access_of(straight_street, homes, settings), _facilities([(0, 0)]),
                         settings)


def test_unknown_category_is_refused_with_the_known_ids(straight_street, settings):
    with pytest.raises(SettingsError, match="community_service"):
        compute_coverage(access_of(straight_street, _homes([(1, 0)]), settings),
                         _facilities([(0, 0)]), settings, CoverageOptions(categories=["nope"]))


def test_facilities_without_category_column_are_refused(straight_street, settings):
    with pytest.raises(InputError, match="category"):
        compute_coverage(access_of(straight_street, _homes([(1, 0)]), settings), points([(0, 0)]),
                         settings)


def test_largest_piece_is_kept_and_dropped_nodes_counted():
    net = network_from_streets(streets([(0, 0), (100, 0)], [(100, 0), (200, 0)],
                                       [(5000, 0), (5100, 0)]))
    assert net.n_nodes == 3
    assert net.n_dropped_nodes == 2
    assert net.n_components == 2


def test_ways_cut_into_segments_equal_pyrosms_split_network(settings):
    # load_pbf reads the ways whole, screens them and cuts them itself (_segments); the
    # streets must be those pyrosm's get_network(nodes=True) gives: every segment, with its
    # way's tags.
    import pyrosm

    from gis.data.sources import (
        BASE_TAGS,
        _explode_lines,
        _segments,
        _tidy,
        default_extract_path,
        load_osm,
        walkable,
    )

    osm = pyrosm.OSM(str(default_extract_path()))
    _nodes, split = osm.get_network(network_type="walking", nodes=True)

    def rows(t):
        return sorted(zip(shapely.to_wkb(t.geometry.values), t["osm_id"],
                          t["highway"].astype(str), t["name"].astype(str), strict=True))

    theirs = rows(walkable(_tidy(_explode_lines(split), BASE_TAGS, ("LineString",)), settings))
    mine = rows(load_osm(None, settings, barriers=False).streets)
    assert len(mine) > 1000
    assert mine == theirs
    # A way of n vertices gives n - 1 segments with its tags.
    ways = _tidy(_explode_lines(osm.get_network(network_type="walking", nodes=False)),
                 BASE_TAGS, ("LineString",))
    cut = _segments(ways)
    assert len(cut) == int((shapely.get_num_coordinates(ways.geometry.values) - 1).sum())
    assert (shapely.get_num_coordinates(cut.geometry.values) == 2).all()


def test_diamond_two_routes_take_the_shorter(diamond_graph, settings):
    # Facility at the tail end T; home at W: W-N-E-T = 2 * 141.42 + 100.
    res = compute_coverage(access_of(diamond_graph, _homes([(-100, 0)]), settings),
                           _facilities([(200, 0)]), settings,
                           CoverageOptions(categories=["health"]))
    assert res.homes["dist_m_health"].iloc[0] == pytest.approx(2 * math.hypot(100, 100) + 100)


def test_service_circle_is_cut_at_the_threshold_and_smaller_than_hull(straight_street,
                                                                      settings):
    fac = _facilities([(1000, 0)])
    homes = _homes([(500, 0), (1700, 0)])
    res = compute_coverage(access_of(straight_street, homes, settings), fac, settings,
                           CoverageOptions(categories=["health"], metres=300))
    circles = service_circles(res, settings, buffer_m=10)
    assert len(circles) == 1
    poly = circles.geometry.iloc[0]
    minx, _, maxx, _ = poly.bounds
    assert minx == pytest.approx(700 - 10, abs=0.5)
    assert maxx == pytest.approx(1300 + 10, abs=0.5)
    assert circles["households"].iloc[0] == 0
    assert circles["area_m2"].iloc[0] <= circles["hull_area_m2"].iloc[0] + 1e-6


def test_service_circle_on_a_cross_is_much_smaller_than_its_hull(settings):
    net = network_from_streets(streets([(-1000, 0), (0, 0)], [(0, 0), (1000, 0)],
                                       [(0, -1000), (0, 0)], [(0, 0), (0, 1000)]))
    fac = _facilities([(0, 0)])
    res = compute_coverage(access_of(net, _homes([(10, 0)]), settings), fac, settings,
                           CoverageOptions(categories=["health"], metres=800))
    circles = service_circles(res, settings, buffer_m=5)
    # A cross of four 800 m arms: its hull is a diamond of 2 * 800^2 m2.
    assert circles["area_m2"].iloc[0] < 0.05 * circles["hull_area_m2"].iloc[0]
    assert circles["households"].iloc[0] == 10


def test_category_circle_refuses_when_no_facility_is_near(straight_street, settings):
    fac = _facilities([(500, 5000)])
    with pytest.raises(NoReachableFacilityError, match="coordinate system"):
        category_circle(access_of(straight_street, _homes([(0, 0)]), settings), fac, "health", 800,
                        settings)


def test_zone_summary_counts_households_per_zone(straight_street, settings):
    homes = _homes([(100, 0), (1500, 0)], households=[30, 70])
    fac = _facilities([(0, 0)])
    res = compute_coverage(access_of(straight_street, homes, settings), fac, settings,
                           CoverageOptions(categories=["health"]))
    zones = gpd.GeoDataFrame({"name": ["西区", "东区"]},
                             geometry=[shapely.box(-10, -50, 1000, 50),
                                       shapely.box(1000, -50, 2010, 50)], crs=UTM)
    table = zone_summary(res, zones).set_index("name")
    assert table.loc["西区", "households"] == 30
    assert table.loc["西区", "share_health"] == 1.0
    assert table.loc["东区", "share_health"] == 0.0


# --- property-based check against networkx with the edges really split ---------------


def _reference_distances(lines, homes_xy, fac_xy, snap_max):
    """Brute force: split every edge at the attachment points and run networkx."""
    g = nx.Graph()
    attach = {}  # edge index -> list of (offset, node)
    for kind, pts in (("h", homes_xy), ("f", fac_xy)):
        for i, xy in enumerate(pts):
            p = Point(xy)
            d = np.array([line.distance(p) for line in lines])
            j = int(np.argmin(d))
            # A point equally near two edges may attach to either: no single answer.
            assume(np.sum(d <= d[j] + 1e-9) == 1 or d[j] > snap_max)
            if d[j] > snap_max:
                continue
            off = lines[j].project(p)
            node = (kind, i)
            attach.setdefault(j, []).append((off, node))
            g.add_edge(node, ("a", kind, i), weight=d[j])
    for j, line in enumerate(lines):
        a = tuple(np.round(line.coords[0], 2))
        b = tuple(np.round(line.coords[-1], 2))
        stops = [(0.0, a)] + sorted((o, ("a",) + n) for o, n in attach.get(j, [])) + \
            [(line.length, b)]
        for (o1, n1), (o2, n2) in zip(stops, stops[1:], strict=False):
            w = o2 - o1
            if g.has_edge(n1, n2):
                w = min(w, g[n1][n2]["weight"])
            g.add_edge(n1, n2, weight=w)
    sources = [("f", i) for i in range(len(fac_xy)) if g.has_node(("f", i))]
    if not sources:
        return None, None
    dist = nx.multi_source_dijkstra_path_length(g, sources, weight="weight")
    per_source = {i: nx.single_source_dijkstra_path_length(g, ("f", i), weight="weight")
                  for _k, i in sources}
    near = [dist.get(("h", i), np.inf) if g.has_node(("h", i)) else np.nan
            for i in range(len(homes_xy))]
    return near, per_source


@st.composite
def random_layout(draw):
    n = draw(st.integers(3, 12))
    coord = st.integers(0, 1000).map(float)
    nodes = draw(st.lists(st.tuples(coord, coord), min_size=n, max_size=n, unique=True))
    # A random spanning tree keeps the graph connected, plus a few extra edges.
    edges = set()
    for i in range(1, n):
        j = draw(st.integers(0, i - 1))
        edges.add((j, i))
    for _ in range(draw(st.integers(0, n))):
        a, b = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
        if a != b:
            edges.add((min(a, b), max(a, b)))
    homes = draw(st.lists(st.tuples(coord, coord), min_size=1, max_size=8))
    facs = draw(st.lists(st.tuples(coord, coord), min_size=1, max_size=4))
    return nodes, sorted(edges), homes, facs


@hyp_settings(max_examples=150, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(layout=random_layout())
def test_engine_equals_networkx_on_random_graphs(layout, settings):
    nodes, edges, homes_xy, fac_xy = layout
    lines = [LineString([nodes[a], nodes[b]]) for a, b in edges]
    net = network_from_streets(gpd.GeoDataFrame(geometry=lines, crs=UTM))
    snap_max = 400.0
    homes = _homes(homes_xy)
    fac = _facilities(fac_xy)
    ref, per_source = _reference_distances(lines, homes_xy, fac_xy, snap_max)
    hs = net.snap(homes, max_m=snap_max)
    fs = net.snap(fac, max_m=snap_max)
    node_dist, node_src = net.nearest_sources(fs, with_source=True)
    got, which = net.nearest_to(hs, node_dist, fs, node_src)
    if ref is None:
        assert not np.isfinite(got).any()
        return
    np.testing.assert_allclose(np.nan_to_num(got, nan=-1.0),
                               np.nan_to_num(np.asarray(ref, float), nan=-1.0),
                               rtol=0, atol=1e-6)
    # The facility named as nearest is at exactly that distance.
    for i, (d, f) in enumerate(zip(got, which, strict=True)):
        if np.isfinite(d):
            assert per_source[int(f)][("h", i)] == pytest.approx(d, abs=1e-6)
        else:
            assert f == -1


def test_households_served_counts_each_facility_own_circle(straight_street, settings):
    from gis.analysis.coverage import households_served

    homes = _homes([(100, 0), (900, 0), (1800, 0)], households=[10, 20, 40])
    fac = _facilities([(0, 0), (1000, 0)])
    res = compute_coverage(access_of(straight_street, homes, settings), fac, settings,
                           CoverageOptions(categories=["health"]))
    served = households_served(res, "health")
    # 800 m: the first reaches the home at 100 m only (900 m is too far); the second the
    # homes at 900 m (100 m away) and 1,800 m (exactly 800 m away).
    assert served.tolist() == [10, 60]


@hyp_settings(max_examples=40, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(layout=random_layout(), thr=st.sampled_from([150.0, 400.0, 900.0]))
def test_per_facility_circles_tile_the_category_circle(layout, thr, settings):
    from gis.analysis.coverage import category_circles

    nodes, edges, homes_xy, fac_xy = layout
    lines = [LineString([nodes[a], nodes[b]]) for a, b in edges]
    net = network_from_streets(gpd.GeoDataFrame(geometry=lines, crs=UTM))
    homes = _homes(homes_xy)
    fac = _facilities(fac_xy)
    res = compute_coverage(access_of(net, homes, settings, snap_max_m=400), fac, settings,
                           CoverageOptions(categories=["health"], metres=thr))
    circles = service_circles(res, settings)
    whole = category_circles(res, settings)
    if len(whole) == 0:
        assert len(circles) == 0
        return
    union = shapely.union_all(circles.geometry.values)
    area = whole.geometry.iloc[0].area
    assert abs(union.area - area) <= 0.005 * area
    # Every covered home is served by exactly one facility: its nearest.
    covered = res.homes.loc[res.homes["covered_health"], "households"].sum()
    assert circles["households"].sum() == covered


def test_a_category_without_facilities_is_no_data_not_zero(straight_street, settings):
    from gis.analysis.coverage import area_summary, zone_summary

    homes = _homes([(100, 0), (1500, 0)], households=[30, 70])
    fac = _facilities([(0, 0)])  # health only; no catering facility anywhere
    res = compute_coverage(access_of(straight_street, homes, settings), fac, settings,
                           CoverageOptions(categories=["health", "catering"]))
    assert res.no_data == ("catering",)
    summary = area_summary(res).set_index("category")
    assert bool(summary.loc["catering", "no_data"])
    assert np.isnan(summary.loc["catering", "share_covered"])
    # The full circle is judged on the categories with data: the home near the clinic.
    assert summary.loc["full_circle", "share_covered"] == pytest.approx(0.3)
    assert summary.loc["full_circle", "left_out_of_full_circle"] == "catering"
    zones = gpd.GeoDataFrame({"name": ["west"]}, geometry=[box(-10, -10, 2100, 10)], crs=UTM)
    table = zone_summary(res, zones).set_index("name")
    assert np.isnan(table.loc["west", "share_catering"])
    assert table.loc["west", "share_full_circle"] == pytest.approx(0.3)


@hyp_settings(max_examples=25, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(layout=random_layout(), thr=st.sampled_from([400.0, 900.0]))
def test_a_circle_is_the_plain_union_of_its_street_bands(layout, thr, settings):
    # The circle's union (GEOS's disjoint-subset union, piece by piece) against the plain
    # union_all of the bands around the same reachable streets.
    from gis.analysis.coverage import category_circle

    nodes, edges, homes_xy, fac_xy = layout
    lines = [LineString([nodes[a], nodes[b]]) for a, b in edges]
    net = network_from_streets(gpd.GeoDataFrame(geometry=lines, crs=UTM))
    access = access_of(net, _homes(homes_xy), settings, snap_max_m=400)
    fac = _facilities(fac_xy)
    try:
        got = category_circle(access, fac, "health", thr, settings)
    except Exception:  # noqa: BLE001 (no facility near the network: nothing to compare)
        return
    snap = access.snap(fac[fac["category"] == "health"])
    reach = access.network.reachable_lines(access.network.node_distances(snap, limit_m=thr),
                                           thr, snap)
    want = shapely.union_all(shapely.buffer(reach, settings.circle_buffer_m, quad_segs=4))
    assert got.area == pytest.approx(want.area, rel=1e-3, abs=1e-6)
    assert got.symmetric_difference(want).area <= 1e-3 * max(want.area, 1.0)


@hyp_settings(max_examples=150, deadline=None)
@given(layout=random_layout(), groups=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_lines_joined_into_trails_keep_their_bands_and_groups(layout, groups, seed):
    # _trails joins lines through junctions (one buffer instead of several bands to
    # union): the band around each group's trails is the band around its lines, no length
    # is lost or doubled, and each trail stays within its group. The two bands differ
    # only where GEOS puts the vertices of the arcs at the joints: each lies within the
    # sagitta of a quarter circle drawn in 4 segments (0.48 m at 25 m) plus the 1 % of
    # the width by which GEOS simplifies an offset curve of the exact band, so within
    # twice that of each other.
    from gis.analysis.coverage import _trails

    nodes, edges, _homes_xy, _fac_xy = layout
    lines = np.array([LineString([nodes[a], nodes[b]]) for a, b in edges], dtype=object)
    group = np.sort(np.random.default_rng(seed).integers(0, groups, lines.size))
    joined, joined_group = _trails(lines, group)
    assert np.all(np.diff(joined_group) >= 0)
    for g in np.unique(group):
        mine, theirs = lines[group == g], joined[joined_group == g]
        assert shapely.length(theirs).sum() == pytest.approx(shapely.length(mine).sum())
        before = shapely.union_all(shapely.buffer(mine, 25.0, quad_segs=4))
        after = shapely.union_all(shapely.buffer(theirs, 25.0, quad_segs=4))
        tolerance = 2 * (25.0 * (1 - np.cos(np.pi / 16)) + 0.01 * 25.0)
        assert shapely.hausdorff_distance(after.boundary, before.boundary) <= tolerance
        assert after.area == pytest.approx(before.area, rel=0.01)
    assert set(joined_group) == set(group)
    assert joined.size <= lines.size


def test_trails_read_the_ends_of_bent_lines_and_skip_empty_ones():
    # The ends come from one pass over every line's coordinates: a line of several
    # vertices joins through its first and last point only, and an empty line (no
    # coordinates) shifts no other line's ends.
    from gis.analysis.coverage import _trails

    bent = LineString([(0, 0), (5, 5), (10, 0)])
    lines = np.array([bent, LineString(), LineString([(10, 0), (20, 0)]),
                      LineString([(5, 5), (5, 50)])], dtype=object)
    joined, group = _trails(lines, np.zeros(4, dtype=np.int64))
    assert joined.size == 2  # bent + the line from its end; the one from its middle alone
    assert sorted(round(float(g.length), 6) for g in joined) == sorted(
        [round(bent.length + 10.0, 6), 45.0])
    assert list(group) == [0, 0]
