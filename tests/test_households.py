"""Which buildings house people, and how many households, by the documented rule."""

from __future__ import annotations

import geopandas as gpd
from shapely.geometry import box

from gis.households import (
    GENERIC_DEFAULT,
    GENERIC_NON_RESIDENTIAL_LANDUSE,
    GENERIC_RESIDENTIAL_LANDUSE,
    GENERIC_SMALL,
    GIVEN,
    NON_RESIDENTIAL_TAG,
    NON_RESIDENTIAL_TYPE,
    RESIDENTIAL_TYPE,
    estimate_households,
    household_report,
)
from tests.conftest import UTM


def _buildings(rows):
    cols = ["building", "building:levels", "height", "shop", "households"]
    data = {c: [r.get(c) for r in rows] for c in cols}
    return gpd.GeoDataFrame(data, geometry=[r["geom"] for r in rows], crs=UTM)


def test_rules_classify_each_kind_of_building(settings):
    landuse = gpd.GeoDataFrame({"landuse": ["residential", "commercial"]},
                               geometry=[box(0, 0, 100, 100), box(200, 0, 300, 100)], crs=UTM)
    rows = [
        {"building": "apartments", "building:levels": "5", "geom": box(500, 0, 530, 30)},
        {"building": "yes", "geom": box(10, 10, 40, 40)},            # in residential landuse
        {"building": "yes", "geom": box(210, 10, 240, 40)},          # in commercial landuse
        {"building": "yes", "geom": box(600, 0, 630, 30)},           # no landuse, 900 m2
        {"building": "yes", "geom": box(700, 0, 705, 5)},            # 25 m2 shed
        {"building": "yes", "shop": "bakery", "geom": box(50, 50, 80, 80)},
        {"building": "church", "geom": box(800, 0, 850, 50)},
        {"building": "yes", "households": 42, "geom": box(900, 0, 910, 10)},
    ]
    out = estimate_households(_buildings(rows), settings.households, landuse=landuse)
    assert out["hh_rule"].tolist() == [
        RESIDENTIAL_TYPE, GENERIC_RESIDENTIAL_LANDUSE, GENERIC_NON_RESIDENTIAL_LANDUSE,
        GENERIC_DEFAULT, GENERIC_SMALL, NON_RESIDENTIAL_TAG, NON_RESIDENTIAL_TYPE, GIVEN]
    assert out["residential"].tolist() == [True, True, False, True, False, False, False, True]
    # 900 m2 x 5 floors / 90 m2 = 50 households; default 4 floors: 900 x 4 / 90 = 40.
    assert out["households"].tolist() == [50, 40, 0, 40, 0, 0, 0, 42]


def test_floors_come_from_height_when_levels_are_missing(settings):
    rows = [{"building": "residential", "height": "18 m", "geom": box(0, 0, 30, 30)}]
    out = estimate_households(_buildings(rows), settings.households)
    assert out["levels"].iloc[0] == 6
    assert out["households"].iloc[0] == 60


def test_a_tiny_home_still_has_one_household(settings):
    rows = [{"building": "house", "building:levels": "1", "geom": box(0, 0, 5, 5)}]
    out = estimate_households(_buildings(rows), settings.households)
    assert out["households"].iloc[0] == 1


def test_report_counts_buildings_and_households_per_rule(settings):
    rows = [
        {"building": "apartments", "building:levels": "3", "geom": box(0, 0, 30, 30)},
        {"building": "apartments", "building:levels": "3", "geom": box(100, 0, 130, 30)},
        {"building": "church", "geom": box(200, 0, 230, 30)},
    ]
    rep = household_report(estimate_households(_buildings(rows), settings.households))
    first = rep.iloc[0]
    assert (first["rule"], first["buildings"], first["households"]) == (RESIDENTIAL_TYPE, 2, 60)
    assert rep["buildings"].sum() == 3
