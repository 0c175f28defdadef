"""GCJ-02 / BD-09 conversion against published reference points, and CRS checks."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from pyproj import Geod
from shapely.geometry import Point

from gis._errors import CRSMismatchError
from gis.crs import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    choose_local_crs,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    require_projected,
    unshift_to_wgs84,
    wgs84_to_gcj02,
)

GEOD = Geod(ellps="WGS84")

# (wgs lng, wgs lat, gcj lng, gcj lat): the test points of googollee/eviltransform
# (Shanghai, Shenzhen, Beijing).
WGS_GCJ = [
    (121.5272106, 31.1774276, 121.531541859215, 31.17530398364597),
    (113.912316, 22.543847, 113.9171764808363, 22.540796131694766),
    (116.377817, 39.911954, 116.38404722455657, 39.91334545536069),
]
# (bd lng, bd lat, gcj lng, gcj lat): wandergis/coordtransform's published example.
BD_GCJ = [(116.404, 39.915, 116.39762729119315, 39.90865673957631)]
GCJ_BD = [(116.404, 39.915, 116.41036949371029, 39.92133699351021)]


def _metres(lng1, lat1, lng2, lat2) -> float:
    return float(GEOD.inv(lng1, lat1, lng2, lat2)[2])


@pytest.mark.parametrize(("wlng", "wlat", "glng", "glat"), WGS_GCJ)
def test_wgs84_to_gcj02_matches_reference_within_a_metre(wlng, wlat, glng, glat):
    lng, lat = wgs84_to_gcj02(wlng, wlat)
    assert _metres(lng, lat, glng, glat) < 1.0


@pytest.mark.parametrize(("wlng", "wlat", "glng", "glat"), WGS_GCJ)
def test_gcj02_to_wgs84_recovers_the_true_position(wlng, wlat, glng, glat):
    lng, lat = gcj02_to_wgs84(glng, glat)
    assert _metres(lng, lat, wlng, wlat) < 1.0
    # The shift itself is hundreds of metres, so the test is not vacuous.
    assert _metres(glng, glat, wlng, wlat) > 100


@pytest.mark.parametrize(("blng", "blat", "glng", "glat"), BD_GCJ)
def test_bd09_to_gcj02_matches_reference(blng, blat, glng, glat):
    lng, lat = bd09_to_gcj02(blng, blat)
    assert _metres(lng, lat, glng, glat) < 1.0


@pytest.mark.parametrize(("glng", "glat", "blng", "blat"), GCJ_BD)
def test_gcj02_to_bd09_matches_reference(glng, glat, blng, blat):
    lng, lat = gcj02_to_bd09(glng, glat)
    assert _metres(lng, lat, blng, blat) < 1.0


def test_bd09_round_trip_to_wgs84_within_two_metres():
    wlng, wlat = np.array([121.4737, 114.0579]), np.array([31.2304, 22.5431])
    blng, blat = gcj02_to_bd09(*wgs84_to_gcj02(wlng, wlat))
    lng, lat = bd09_to_wgs84(blng, blat)
    for i in range(2):
        assert _metres(lng[i], lat[i], wlng[i], wlat[i]) < 2.0


def test_points_outside_china_are_not_shifted():
    lng, lat = wgs84_to_gcj02(24.94, 60.17)  # Helsinki
    assert (float(lng), float(lat)) == (24.94, 60.17)


def test_unshift_layer_moves_gcj02_points_to_wgs84():
    wlng, wlat, glng, glat = WGS_GCJ[0]
    layer = gpd.GeoDataFrame({"name": ["上海"]}, geometry=[Point(glng, glat)])
    out = unshift_to_wgs84(layer, "gcj02")
    assert out.crs.to_epsg() == 4326
    p = out.geometry.iloc[0]
    assert _metres(p.x, p.y, wlng, wlat) < 1.0
    assert out["name"].iloc[0] == "上海"


def test_choose_local_crs_picks_the_utm_zone():
    area = gpd.GeoSeries([Point(24.94, 60.17)], crs="EPSG:4326")
    assert choose_local_crs(area).to_epsg() == 32635
    area = gpd.GeoSeries([Point(121.47, 31.23)], crs="EPSG:4326")
    assert choose_local_crs(area).to_epsg() == 32651


def test_require_projected_names_every_bad_layer():
    a = gpd.GeoSeries([Point(0, 0)], crs="EPSG:32633")
    b = gpd.GeoSeries([Point(0, 0)], crs="EPSG:4326")
    c = gpd.GeoSeries([Point(0, 0)], crs="EPSG:32635")
    with pytest.raises(CRSMismatchError) as err:
        require_projected(("homes", a), ("facilities", b), ("zones", c))
    text = str(err.value)
    assert "`facilities` is in geographic" in text
    assert "`zones` is in EPSG:32635" in text
    assert "to_local" in text


def test_undeclared_gcj02_points_are_recognised_and_true_wgs84_ones_are_not():
    import shapely

    from gis.crs import choose_local_crs, looks_like_gcj02, to_local
    from gis.network.graph import network_from_streets

    # A 2 km street grid in Shanghai (WGS-84), shops standing on its streets.
    lng0, lat0, step = 121.45, 31.22, 0.002
    lines = []  # one segment between each pair of neighbouring intersections
    for i in range(11):
        for j in range(10):
            x, y = lng0 + i * step, lat0 + j * step
            lines.append(shapely.LineString([(x, y), (x, y + step)]))
            x, y = lng0 + j * step, lat0 + i * step
            lines.append(shapely.LineString([(x, y), (x + step, y)]))
    streets = gpd.GeoDataFrame(geometry=lines, crs="EPSG:4326")
    crs = choose_local_crs(streets)
    net = network_from_streets(to_local(streets, crs))
    rng = np.random.default_rng(1)
    true = gpd.GeoDataFrame(geometry=[shapely.Point(lng0 + rng.integers(0, 11) * step,
                                                    lat0 + rng.random() * 10 * step)
                                      for _ in range(20)], crs="EPSG:4326")

    def dist(pts):
        return net.snap(to_local(pts, crs), max_m=np.inf).access_m

    as_amap = true.copy()
    glng, glat = wgs84_to_gcj02(true.geometry.x.to_numpy(), true.geometry.y.to_numpy())
    as_amap = gpd.GeoDataFrame(geometry=gpd.points_from_xy(glng, glat), crs="EPSG:4326")
    shifted, given_m, converted_m = looks_like_gcj02(as_amap, dist)
    # On a 200 m grid a shifted shop often lands near another street: still tens of
    # metres off, against centimetres once converted.
    assert shifted and given_m > 30 and converted_m < 1
    assert not looks_like_gcj02(true, dist)[0]
