"""Walled compounds: homes inside reach the streets only through open gates."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import LineString, Point, box

from gis.analysis.coverage import (
    CoverageOptions,
    compute_coverage,
)
from gis.network.compounds import compounds_from_layers, compounds_from_osm
from gis.network.graph import network_from_streets
from tests.conftest import UTM, access_of, points, streets


@pytest.fixture
def two_streets():
    """A south street (y = 0) and a north street (y = 300), joined 1 km to the west.

        (-1000,300) -------------- (400,300)     north street
             |
        (-1000,0)   -------------- (400,0)       south street

    A walled compound (0,20)-(200,280) lies between them.
    """
    return network_from_streets(streets([(-1000, 0), (400, 0)], [(-1000, 300), (400, 300)],
                                        [(-1000, 0), (-1000, 300)]))


def _case(two_streets, settings, gates, night=False, with_compound=True):
    homes = points([(100, 40)], households=[50])          # near the compound's south wall
    fac = points([(100, -5)], category=["health"], name=["诊所"])  # on the south street
    area = gpd.GeoDataFrame(geometry=[box(0, 20, 200, 280)], crs=UTM)
    gate_gdf = gpd.GeoDataFrame({"night_closed": [g[2] for g in gates]},
                                geometry=[Point(g[0], g[1]) for g in gates], crs=UTM)
    comp = compounds_from_layers(area, gate_gdf) if with_compound else None
    res = compute_coverage(access_of(two_streets, homes, settings, compounds=comp, night=night),
                           fac, settings, CoverageOptions(categories=["health"], metres=800))
    return res.homes["dist_m_health"].iloc[0]


def test_without_walls_the_home_walks_straight_to_the_south_street(two_streets, settings):
    assert _case(two_streets, settings, [], with_compound=False) == pytest.approx(40 + 5)


def test_a_south_gate_gives_the_same_short_walk_through_the_gate(two_streets, settings):
    # Gate at (100, 20) on the south wall: 20 m to the gate, 20 m to the street, 5 m on.
    assert _case(two_streets, settings, [(100, 20, False)]) == pytest.approx(20 + 20 + 5)


def test_only_a_north_gate_means_a_long_detour(two_streets, settings):
    # Gate at (100, 280): 240 m inside, 20 m to the north street, 1,100 m west, 300 m
    # south, 1,100 m east, 5 m to the clinic.
    expected = 240 + 20 + 1100 + 300 + 1100 + 5
    assert _case(two_streets, settings, [(100, 280, False)]) == pytest.approx(expected)


def test_night_profile_closes_the_south_gate(two_streets, settings):
    gates = [(100, 20, True), (100, 280, False)]
    day = _case(two_streets, settings, gates)
    night = _case(two_streets, settings, gates, night=True)
    assert day == pytest.approx(45)
    assert night == pytest.approx(240 + 20 + 1100 + 300 + 1100 + 5)
    assert night > 800 >= day  # covered by day, not at night


def test_all_gates_shut_cuts_the_compound_off(two_streets, settings):
    assert np.isinf(_case(two_streets, settings, [(100, 20, True)], night=True))


def test_osm_detection_needs_walls_along_most_of_the_edge(settings):
    landuse = gpd.GeoDataFrame({"landuse": ["residential", "residential"]},
                               geometry=[box(0, 0, 100, 100), box(300, 0, 400, 100)], crs=UTM)
    wall = box(0, 0, 100, 100).exterior
    barriers = gpd.GeoDataFrame({"barrier": ["wall", "gate", "fence"],
                                 "opening_hours": [None, "06:00-22:00", None]},
                                geometry=[wall, Point(50, 0), box(300, 0, 320, 10).exterior],
                                crs=UTM)
    comp = compounds_from_osm(landuse, barriers)
    assert len(comp) == 1  # only the fully walled one
    assert comp.gates["night_closed"].tolist() == [True]


def test_gate_effect_counts_households_that_change(two_streets, settings):
    from gis.analysis.coverage import gate_effect

    homes = points([(100, 40), (300, 150)], households=[50, 70])
    fac = points([(100, -5)], category=["health"], name=["诊所"])
    area = gpd.GeoDataFrame(geometry=[box(0, 20, 200, 280)], crs=UTM)
    gates = gpd.GeoDataFrame({"night_closed": [False]}, geometry=[Point(100, 280)], crs=UTM)
    comp = compounds_from_layers(area, gates)
    plain = compute_coverage(access_of(two_streets, homes, settings), fac, settings,
                             CoverageOptions(categories=["health"], metres=800))
    gated = compute_coverage(access_of(two_streets, homes, settings, compounds=comp), fac, settings,
                             CoverageOptions(categories=["health"], metres=800))
    row = gate_effect(plain, gated).iloc[0]
    assert (row["covered_without_gates"], row["covered_with_gates"],
            row["households_changed"]) == (120, 70, 50)


def test_cli_reports_the_gate_effect_on_helsinki(tmp_path, capsys):
    from gis.cli import main

    assert main(["coverage", "--categories", "health", "--gates", "night", "--no-circles",
                 "--quiet", "--out", str(tmp_path / "g.gpkg")]) == 0
    out = capsys.readouterr().out
    # The extract has a few fenced residential areas; the report says how many and what
    # honouring their gates changes.
    assert "Gates honoured (night)" in out
    assert "walled compounds found" in out


def test_entrance_nodes_on_the_edge_are_gates(settings):
    landuse = gpd.GeoDataFrame({"landuse": ["residential"]}, geometry=[box(0, 0, 100, 100)],
                               crs=UTM)
    barriers = gpd.GeoDataFrame({"barrier": ["wall", None, None],
                                 "entrance": [None, "main", "staircase"]},
                                geometry=[box(0, 0, 100, 100).exterior, Point(100, 50),
                                          Point(99, 60)], crs=UTM)
    comp = compounds_from_osm(landuse, barriers)
    assert len(comp.gates) == 1  # the main entrance; a staircase door is no gate


def _reference_walled(landuse, barriers, wall_share=0.6):
    """The straightforward rule: edge share along the 3 m band of *all* walls unioned."""
    import shapely

    walls = np.asarray(barriers.geometry.values)
    lines = np.where(shapely.get_type_id(walls) >= 3, shapely.boundary(walls), walls)
    band = shapely.buffer(shapely.union_all(lines), 3.0)
    out = []
    for geom in landuse.geometry:
        edge = geom.boundary
        if shapely.intersection(edge, band).length / edge.length >= wall_share:
            out.append(geom)
    return out


def test_compound_detection_with_many_walls_equals_the_plain_rule(settings):
    rng = np.random.default_rng(3)
    # 60 residential blocks on a 200 m lattice; walls around a random half of them, some
    # only partly walled; 3,000 unrelated short fences scattered in between.
    blocks, walls = [], []
    for i in range(60):
        x, y = (i % 10) * 200, (i // 10) * 200
        blocks.append(box(x, y, x + 150, y + 150))
        share = rng.choice([0.0, 0.3, 0.7, 1.0])
        ring = box(x, y, x + 150, y + 150).exterior
        if share > 0:
            from shapely.ops import substring
            walls.append(substring(ring, 0, share * ring.length))
    for _ in range(3000):
        x, y = rng.uniform(0, 2000), rng.uniform(0, 1200)
        walls.append(LineString([(x, y), (x + rng.uniform(-20, 20), y + rng.uniform(-20, 20))]))
    landuse = gpd.GeoDataFrame({"landuse": ["residential"] * len(blocks)}, geometry=blocks,
                               crs=UTM)
    barriers = gpd.GeoDataFrame({"barrier": ["fence"] * len(walls)}, geometry=walls, crs=UTM)
    comp = compounds_from_osm(landuse, barriers)
    want = _reference_walled(landuse, barriers)
    assert len(comp) == len(want) > 0
    got = sorted(round(g.centroid.x) * 10_000 + round(g.centroid.y) for g in comp.areas.geometry)
    ref = sorted(round(g.centroid.x) * 10_000 + round(g.centroid.y) for g in want)
    assert got == ref


def test_compounds_of_a_pbf_are_found_on_demand_as_at_load(settings):
    # A .osm.pbf's walls are read only when gates are first honoured: the compounds found
    # then are those found from the walls read with everything else, and the load report
    # names them only once they have been searched.
    from gis.crs import to_local
    from gis.data.sources import load_osm
    from gis.study import load_study

    study = load_study(None, settings)
    assert not study.compound_search.made
    assert "r_compounds" not in {m.key for m in study.report()["item"]}
    assert study.access().compounds is None  # gates off: still no wall read
    assert not study.compound_search.made
    gated = study.access(gates="night")
    found = study.compounds
    assert gated.compounds is found and len(found) > 0
    osm = load_osm(None, settings)
    crs = study.area.local_crs
    eager = compounds_from_osm(to_local(osm.landuse, crs), to_local(osm.barriers, crs))
    assert len(found) == len(eager) and len(found.gates) == len(eager.gates)
    assert found.areas.geometry.union_all().equals(eager.areas.geometry.union_all())
    report = study.report()
    values = dict(zip([m.key for m in report["item"]], report["value"], strict=True))
    assert values["r_compounds"] == len(eager) and values["r_gates"] == len(eager.gates)
