"""City-scale smoke test: the command line end to end on a clipped part of Malta.

Reads ../shared/data (skipped with a reason when it is absent); the window keeps it inside
the suite's time budget. No timing is asserted: speed is checked by benchmarks/scale.py.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely

from gis.cli import main
from tests.conftest import SHARED_DATA

MALTA = SHARED_DATA / "malta" / "malta-2018-08-27.osm.pbf"
#: Valletta and Floriana: a few square kilometres, several network pieces.
WINDOW = "14.500,35.885,14.525,35.905"

pytestmark = pytest.mark.skipif(not MALTA.exists(),
                                reason=f"{MALTA} is absent (the shared city extracts)")


@pytest.fixture(scope="module")
def coverage_gpkg(tmp_path_factory):
    out = tmp_path_factory.mktemp("malta") / "coverage.gpkg"
    assert main(["coverage", "--source", str(MALTA), "--bbox", WINDOW, "--facility-circles",
                 "--quiet", "--out", str(out)]) == 0
    return out


def test_coverage_writes_consistent_layers(coverage_gpkg):
    layers = dict(pyogrio.list_layers(coverage_gpkg))
    assert {"homes", "facilities", "service_circles", "category_circles", "summary",
            "network_pieces"} <= set(layers)
    homes = gpd.read_file(coverage_gpkg, layer="homes")
    assert homes.crs.to_epsg() == 4326 and len(homes) > 100
    west, south, east, north = (float(v) for v in WINDOW.split(","))
    c = homes.geometry.centroid
    assert ((c.x >= west) & (c.x <= east) & (c.y >= south) & (c.y <= north)).all()
    summary = pyogrio.read_dataframe(coverage_gpkg, layer="summary")
    assert summary["share_covered"].dropna().between(0, 1).all()
    # The facility circles of each category tile its circle.
    circles = gpd.read_file(coverage_gpkg, layer="service_circles").to_crs(homes.estimate_utm_crs())
    whole = gpd.read_file(coverage_gpkg, layer="category_circles").to_crs(circles.crs)
    for _, row in whole.iterrows():
        mine = circles[circles["category"] == row["category"]]
        union = shapely.union_all(mine.geometry.values)
        assert abs(union.area - row.geometry.area) <= 0.005 * row.geometry.area
    # Households served per facility add up to the households covered.
    for cid in whole["category"]:
        covered = homes.loc[homes[f"covered_{cid}"].astype(bool), "households"].sum()
        assert circles.loc[circles["category"] == cid, "households"].sum() == covered


def test_every_piece_with_homes_is_reported(coverage_gpkg):
    pieces = pyogrio.read_dataframe(coverage_gpkg, layer="network_pieces")
    homes = gpd.read_file(coverage_gpkg, layer="homes")
    assert pieces["homes"].sum() == int(homes["attached"].astype(bool).sum())
    assert (pieces["homes"] > 0).sum() >= 1


def test_sites_and_grids_run_on_the_window(tmp_path):
    sites = tmp_path / "sites.gpkg"
    assert main(["sites", "--source", str(MALTA), "--bbox", WINDOW, "--category", "health",
                 "-k", "3", "--quiet", "--out", str(sites)]) == 0
    before_after = pyogrio.read_dataframe(sites, layer="before_after").iloc[0]
    assert before_after["covered_after"] - before_after["covered_before"] == pytest.approx(
        before_after["exact_objective"])
    grids = tmp_path / "grids.gpkg"
    assert main(["grids", "--source", str(MALTA), "--bbox", WINDOW, "--quiet",
                 "--out", str(grids)]) == 0
    zones = gpd.read_file(grids, layer="grids")
    assert zones.is_valid.all() and (zones.geom_type == "Polygon").all()
    assert (zones["households"] > 0).all()
    assert np.isfinite(zones["compactness"]).all()
