"""End to end on real OpenStreetMap data: the bundled Helsinki extract and Chinese exports."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import geopandas as gpd
import numpy as np
import pyogrio
import pytest

from gis.analysis.coverage import (
    CoverageOptions,
    area_summary,
    compute_coverage,
)
from gis.cli import main
from gis.study import Once, load_study
from tests.conftest import SHARED_DATA

CATS = "health,community_service,daily_retail"


@pytest.fixture(scope="module")
def helsinki(settings):
    return load_study(None, settings)


@pytest.fixture(scope="module")
def helsinki_gpkg(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "result.gpkg"
    status = main(["coverage", "--categories", CATS, "--facility-circles", "--out", str(out),
                   "--quiet"])
    assert status == 0
    return out


def test_a_value_made_once_however_many_threads_ask():
    calls = []
    lock = threading.Lock()

    def make():
        with lock:
            calls.append(1)
        time.sleep(0.05)  # the others ask while it is being made
        return object()

    once = Once(make)
    assert not once.made
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda _i: once.get(), range(16)))
    assert len(calls) == 1
    assert once.made
    assert all(g is got[0] for g in got)
    value = object()
    given = Once.of(value)
    assert given.made and given.get() is value


def test_a_study_loaded_without_its_network_builds_it_on_first_use(helsinki, settings):
    lazy = load_study(None, settings, walk_network=False)
    assert not lazy.walk.made
    assert len(lazy.homes) == len(helsinki.homes)
    assert lazy.network.n_nodes == helsinki.network.n_nodes
    assert lazy.walk.made
    np.testing.assert_array_equal(lazy.home_snap.edge, helsinki.home_snap.edge)
    np.testing.assert_array_equal(lazy.home_snap.ok, helsinki.home_snap.ok)


def test_grids_and_households_commands_never_build_the_walking_network(tmp_path, monkeypatch,
                                                                        capsys):
    # Street blocks, grids and household counts stand on streets and buildings alone.
    import gis.study

    def refuse(*_a, **_k):
        msg = "the walking network was built"
        raise AssertionError(msg)

    monkeypatch.setattr(gis.study, "network_from_streets", refuse)
    assert main(["grids", "--out", str(tmp_path / "g.gpkg"), "--quiet"]) == 0
    assert main(["households", "--quiet"]) == 0
    # coverage needs it: the refusal shows
    assert main(["coverage", "--categories", "health", "--out", str(tmp_path / "c.gpkg"),
                 "--quiet"]) != 0
    assert "the walking network was built" in capsys.readouterr().err


def test_cli_writes_every_layer_in_wgs84(helsinki_gpkg):
    layers = dict(pyogrio.list_layers(helsinki_gpkg))
    assert set(layers) == {"homes", "facilities", "service_circles", "category_circles",
                           "summary", "load_report", "network_pieces", "household_rules"}
    for name in ("homes", "facilities", "service_circles", "category_circles"):
        assert gpd.read_file(helsinki_gpkg, layer=name).crs.to_epsg() == 4326


def test_helsinki_counts_are_plausible(helsinki_gpkg):
    homes = gpd.read_file(helsinki_gpkg, layer="homes")
    # The extract has 486 buildings; about a third of them house people. At 90 m2 per
    # household the inner-city blocks hold a few thousand households.
    assert 100 <= len(homes) <= 300
    assert 3_000 <= homes["households"].sum() <= 15_000
    for cid in CATS.split(","):
        times = homes[f"time_min_{cid}"].dropna()
        assert (times >= 0).all()
        covered = homes[f"covered_{cid}"].astype(bool)
        assert (covered == (homes[f"dist_m_{cid}"] <= 800)).all()
    facilities = gpd.read_file(helsinki_gpkg, layer="facilities")
    assert set(facilities["category"]) == set(CATS.split(","))
    assert 5 <= (facilities["category"] == "health").sum() <= 50


def test_helsinki_circles_are_honest_polygons_smaller_than_hulls(helsinki_gpkg):
    circles = gpd.read_file(helsinki_gpkg, layer="service_circles")
    assert len(circles) > 10
    assert (circles["area_m2"] < circles["hull_area_m2"]).all()
    assert (circles["households"] >= 0).all()


def test_helsinki_summary_and_load_report(helsinki_gpkg):
    summary = pyogrio.read_dataframe(helsinki_gpkg, layer="summary")
    assert summary["category"].tolist() == [*CATS.split(","), "full_circle"]
    assert summary["share_covered"].between(0, 1).all()
    report = pyogrio.read_dataframe(helsinki_gpkg, layer="load_report").set_index("item")
    # The extract's walking network is in many pieces; the small ones are dropped.
    assert report.loc["network pieces in the source", "value"] > 10
    assert report.loc["network nodes dropped (pieces under 2 km of streets)", "value"] > 0
    assert report.loc["network pieces kept (each analysed on its own)", "value"] >= 1


def test_coverage_never_falls_as_the_threshold_rises(helsinki, settings):
    shares = []
    for metres in (300, 500, 800, 1000, 1500):
        res = compute_coverage(helsinki.access(), helsinki.facilities, settings,
                               CoverageOptions(metres=metres))
        shares.append(area_summary(res).set_index("category")["share_covered"])
    for lower, higher in zip(shares, shares[1:], strict=False):
        # Categories with no facility are "no data" at every threshold.
        assert (higher.isna() == lower.isna()).all()
        known = lower.notna()
        assert (higher[known] >= lower[known]).all()
    assert shares[-1]["health"] > shares[0]["health"]


def test_elderly_profile_covers_fewer_households_in_helsinki(helsinki, settings):
    adult = compute_coverage(helsinki.access(), helsinki.facilities, settings)
    elderly = compute_coverage(helsinki.access(), helsinki.facilities, settings,
                               CoverageOptions(profile="elderly"))
    assert elderly.share_covered["health"] < adult.share_covered["health"]


def test_cli_reports_bad_input_without_writing(tmp_path, capsys):
    bad = tmp_path / "facilities.geojson"
    bad.write_text("not geojson", encoding="utf-8")
    out = tmp_path / "out.gpkg"
    status = main(["coverage", "--facilities", str(bad), "--out", str(out), "--quiet"])
    assert status == 2
    err = capsys.readouterr().err
    assert err.startswith("error: facilities.geojson: cannot be read")
    assert not out.exists()


def test_cli_refuses_facilities_far_from_the_area(tmp_path, capsys):
    far = gpd.GeoDataFrame({"category": ["health"]},
                           geometry=gpd.points_from_xy([121.47], [31.23]), crs="EPSG:4326")
    path = tmp_path / "shanghai.geojson"
    far.to_file(path)
    status = main(["coverage", "--facilities", str(path), "--out", str(tmp_path / "o.gpkg"),
                   "--quiet"])
    assert status == 2
    assert "none of the 1 facilities lies within 250 m" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["coverage", "gaps", "standards"])
def test_cli_exits_2_when_no_home_reaches_the_network(tmp_path, capsys, command):
    # Homes 30 km out of central Helsinki: before, coverage wrote 0 households covered
    # and exited 0.
    far = gpd.GeoDataFrame({"households": [40, 60]},
                           geometry=gpd.points_from_xy([25.40, 25.41], [60.40, 60.41]),
                           crs="EPSG:4326")
    path = tmp_path / "far_homes.geojson"
    far.to_file(path)
    extra = ["--category", "health"] if command == "gaps" else []
    out = tmp_path / ("o.xlsx" if command == "standards" else "o.gpkg")
    status = main([command, *extra, "--buildings", str(path), "--out", str(out), "--quiet"])
    assert status == 2
    err = capsys.readouterr().err
    assert "far_homes.geojson: none of the 2 homes lies within 250 m" in err
    assert not out.exists()


CHINESE = SHARED_DATA / "shanghai_shu_baoshan" / "map_1.osm"


@pytest.mark.skipif(not CHINESE.is_file(),
                    reason=f"real Chinese OSM export not present at {CHINESE} "
                           "(../shared/data is only beside the project in CI and dev)")
def test_cli_on_shanghai_export_keeps_chinese_names(tmp_path):
    out = tmp_path / "shanghai.gpkg"
    assert main(["coverage", "--source", str(CHINESE), "--out", str(out), "--quiet"]) == 0
    fac = gpd.read_file(out, layer="facilities")
    homes = gpd.read_file(out, layer="homes")
    assert "上海教育超市" in set(fac["name"])
    assert any("楼" in str(n) for n in homes["name"])
    # The export is a university campus: dormitories are its homes.
    assert (homes["building"] == "dormitory").sum() >= 10
    summary = pyogrio.read_dataframe(out, layer="summary").set_index("category")
    assert 0 < summary.loc["catering", "share_covered"] <= 1
    # Every home lies inside the export's bounds (the file's <bounds> clip).
    minx, miny, maxx, maxy = homes.total_bounds
    assert 121.3 < minx < maxx < 121.5 and 31.2 < miny < maxy < 31.4


SHENZHEN = SHARED_DATA / "shenzhen_longgang" / "map.osm"


@pytest.mark.skipif(not SHENZHEN.is_file(),
                    reason=f"real Chinese OSM export not present at {SHENZHEN}")
def test_shenzhen_export_loads_with_streets_clipped_to_bounds(settings):
    study = load_study(SHENZHEN, settings)
    assert study.network.n_nodes > 500
    assert study.area.local_crs.to_epsg() == 32650
    assert len(study.homes) > 0


def test_cli_with_own_facilities_replaces_osm_ones(tmp_path):
    own = gpd.GeoDataFrame(
        {"category": ["养老服务", "elderly_care"], "name": ["星光老年之家", "Päiväkeskus"],
         "franchise": ["是", "否"]},
        geometry=gpd.points_from_xy([24.9445, 24.9410], [60.1700, 60.1665]), crs="EPSG:4326")
    path = tmp_path / "own.gpkg"
    own.to_file(path)
    out = tmp_path / "own_result.gpkg"
    assert main(["coverage", "--facilities", str(path), "--categories", "elderly_care",
                 "--out", str(out), "--quiet", "--no-circles"]) == 0
    fac = gpd.read_file(out, layer="facilities")
    assert fac["name"].tolist() == ["星光老年之家", "Päiväkeskus"]
    assert fac["franchise"].tolist() == [True, False]
    summary = pyogrio.read_dataframe(out, layer="summary").set_index("category")
    # Two day-care homes in the centre reach some but not all of the extract's homes.
    assert 0 < summary.loc["elderly_care", "share_covered"] < 1


def test_cli_summarises_by_community_polygons(tmp_path, capsys):
    west = gpd.GeoSeries.from_wkt(["POLYGON((24.92 60.15, 24.945 60.15, 24.945 60.19, "
                                   "24.92 60.19, 24.92 60.15))"], crs="EPSG:4326")
    east = gpd.GeoSeries.from_wkt(["POLYGON((24.945 60.15, 24.97 60.15, 24.97 60.19, "
                                   "24.945 60.19, 24.945 60.15))"], crs="EPSG:4326")
    zones = gpd.GeoDataFrame({"社区名称": ["西社区", "东社区"]},
                             geometry=[west.iloc[0], east.iloc[0]], crs="EPSG:4326")
    path = tmp_path / "communities.geojson"
    zones.to_file(path)
    out = tmp_path / "zones.gpkg"
    assert main(["coverage", "--communities", str(path), "--categories", "health",
                 "--no-circles", "--quiet", "--out", str(out)]) == 0
    table = pyogrio.read_dataframe(out, layer="communities_summary").set_index("name")
    homes = gpd.read_file(out, layer="homes")
    assert set(table.index) == {"西社区", "东社区"}
    assert table["households"].sum() == homes["households"].sum()
    assert table["share_health"].between(0, 1).all()
    assert "西社区" in capsys.readouterr().out


def test_cli_gaps_writes_ranked_gap_areas(tmp_path, capsys):
    out = tmp_path / "gaps.gpkg"
    assert main(["gaps", "--category", "health", "--quiet",
                 "--out", str(out)]) == 0
    areas = gpd.read_file(out, layer="gap_areas")
    homes = gpd.read_file(out, layer="uncovered_homes")
    assert areas.crs.to_epsg() == 4326
    assert areas["households"].is_monotonic_decreasing
    assert areas["households"].sum() == homes["households"].sum()
    assert (areas["extra_min"] >= 0).all()
    assert "uncovered households" in capsys.readouterr().out


def test_cli_sites_closes_the_elderly_care_gap_and_checks_itself(tmp_path):
    out = tmp_path / "sites.gpkg"
    assert main(["sites", "--category", "elderly_care", "-k", "3", "--quiet",
                 "--out", str(out)]) == 0
    sites = gpd.read_file(out, layer="proposed_sites")
    ba = pyogrio.read_dataframe(out, layer="before_after").iloc[0]
    assert len(sites) == 3
    assert sites["gain_households"].is_monotonic_decreasing
    # The engine's recount equals the solver's objective, and the exact model is at
    # least as good as greedy.
    assert ba["newly_covered"] == ba["exact_objective"]
    assert ba["exact_objective"] >= ba["greedy_objective"]
    assert bool(ba["optimal"])
    assert len(gpd.read_file(out, layer="site_circles")) == 3


def test_cli_sites_refuses_k_larger_than_the_candidates(tmp_path, capsys):
    cand = gpd.GeoDataFrame(geometry=gpd.points_from_xy([24.944], [60.170]), crs="EPSG:4326")
    path = tmp_path / "cand.geojson"
    cand.to_file(path)
    status = main(["sites", "--category", "health", "-k", "3", "--candidates", str(path),
                   "--quiet", "--out", str(tmp_path / "s.gpkg")])
    assert status == 2
    assert "only 1 candidates" in capsys.readouterr().err


def test_a_geopackage_of_own_streets_and_buildings_is_a_study_area(tmp_path, settings):
    from shapely.geometry import LineString, box

    # A 3 x 3 street grid drawn as long lines that cross (as in a surveyed map), in
    # CGCS2000 degrees near Shanghai, with four apartment blocks and a clinic.
    x0, y0, d = 121.45, 31.22, 0.003
    lines = ([LineString([(x0, y0 + i * d), (x0 + 3 * d, y0 + i * d)]) for i in range(4)]
             + [LineString([(x0 + i * d, y0), (x0 + i * d, y0 + 3 * d)]) for i in range(4)])
    streets = gpd.GeoDataFrame({"名称": ["路"] * 8}, geometry=lines, crs="EPSG:4490")
    homes = gpd.GeoDataFrame({"households": [120, 80, 60, 40]},
                             geometry=[box(x0 + i * d + 0.0008, y0 + 0.0008,
                                           x0 + i * d + 0.0016, y0 + 0.0016)
                                       for i in range(3)] + [box(x0 + 0.0008, y0 + 2 * d +
                                                                 0.0008, x0 + 0.0016,
                                                                 y0 + 2 * d + 0.0016)],
                             crs="EPSG:4490")
    path = tmp_path / "街道.gpkg"
    streets.to_file(path, layer="streets")
    homes.to_file(path, layer="buildings")
    study = load_study(path, settings)
    # The crossing lines were split into a connected grid: 16 intersections.
    assert study.network.n_nodes == 16 and study.network.n_dropped_nodes == 0
    assert int(study.homes["households"].sum()) == 300
    clinic = gpd.GeoDataFrame({"category": ["health"]},
                              geometry=gpd.points_from_xy([x0 + 0.0001], [y0 + 0.0001]),
                              crs="EPSG:4326")
    res = compute_coverage(study.access(), clinic.to_crs(study.area.local_crs), settings,
                           CoverageOptions(categories=["health"]))
    assert 0 < res.share_covered["health"] <= 1
