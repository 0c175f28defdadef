"""Impossible numbers are caught and counted, never passed on (issue: hostile input).

Before: a huge ``building:levels`` or ``households`` printed a household total of
-9,223,372,036,854,769,567 or 1.58 billion; nodes at ``lon=400`` gave 9,464,179
households; an extract concatenated with itself doubled the households; dropped
geometries were not counted.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from gis.data.households import CHECK_CAPPED, CHECK_GIVEN, CHECK_LEVELS, estimate_households
from gis.data.sources import default_extract_path
from gis.settings import load_settings
from gis.study import load_study

LON, LAT = 121.400, 31.200
STEP = 0.002  # about 200 m


def _osm_xml(buildings: list[dict]) -> str:
    """Return OSM XML of a 3 x 3 street grid and ``buildings`` (corners and tags)."""
    nodes: list[str] = []
    ways: list[str] = []
    ids = iter(range(1, 100_000))
    grid: dict[tuple[int, int], int] = {}
    for i in range(3):
        for j in range(3):
            n = next(ids)
            grid[i, j] = n
            nodes.append(f'<node id="{n}" lat="{LAT + j * STEP}" lon="{LON + i * STEP}"/>')
    for i in range(3):
        for refs in ([grid[i, j] for j in range(3)], [grid[j, i] for j in range(3)]):
            nds = "".join(f'<nd ref="{r}"/>' for r in refs)
            ways.append(f'<way id="{next(ids)}">{nds}<tag k="highway" v="residential"/></way>')
    for b in buildings:
        refs = []
        for lon, lat in b["corners"]:
            n = next(ids)
            nodes.append(f'<node id="{n}" lat="{lat}" lon="{lon}"/>')
            refs.append(n)
        nds = "".join(f'<nd ref="{r}"/>' for r in [*refs, refs[0]])
        tags = "".join(f'<tag k="{k}" v="{v}"/>' for k, v in b["tags"].items())
        ways.append(f'<way id="{next(ids)}">{nds}{tags}</way>')
    bounds = (f'<bounds minlat="{LAT}" minlon="{LON}" maxlat="{LAT + 2 * STEP}" '
              f'maxlon="{LON + 2 * STEP}"/>')
    return ("<?xml version='1.0' encoding='UTF-8'?>\n<osm version='0.6'>" + bounds
            + "".join(nodes) + "".join(ways) + "</osm>")


def _square(lon: float, lat: float, size: float = 0.0003) -> list[tuple[float, float]]:
    return [(lon, lat), (lon + size, lat), (lon + size, lat + size), (lon, lat + size)]


def test_impossible_floors_and_far_away_nodes_are_counted_not_believed(tmp_path):
    x, y = LON + 0.0005, LAT + 0.0005
    path = tmp_path / "area.osm"
    path.write_text(_osm_xml([
        {"corners": _square(x, y), "tags": {"building": "apartments", "building:levels": "6"}},
        {"corners": _square(x + 0.001, y),
         "tags": {"building": "apartments", "building:levels": "1e30"}},
        {"corners": _square(x, y + 0.001),
         "tags": {"building": "apartments", "building:levels": "99999999999999999999"}},
        # One corner at longitude 400: before, 9,464,179 households came from such nodes.
        {"corners": [(x + 0.001, y + 0.001), (400.0, y + 0.001), (x + 0.0013, y + 0.0013)],
         "tags": {"building": "apartments", "building:levels": "6"}},
    ]), encoding="utf-8")
    study = load_study(path, load_settings())
    checks = dict(study.checks)
    assert checks["bad_coordinates"] == 1
    homes = study.homes
    assert len(homes) == 3
    assert homes["households"].min() > 0
    # Floors 1e30 and 10^20 are replaced by the default floors, never multiplied.
    default = load_settings().households.default_levels
    assert sorted(homes["levels"]) == [default, default, 6]
    assert (homes["hh_check"] == CHECK_LEVELS).sum() == 2
    assert homes["households"].sum() < 200  # 6, 4 and 4 floors of about 900 m2
    report = study.report().set_index("value", drop=False)
    texts = [str(t) for t in study.report()["item"]]
    assert any("coordinates" in t for t in texts)
    assert int(report.loc[report["item"].astype(str).str.startswith(
        "buildings: floors above"), "value"].iloc[0]) == 2


def test_a_buildings_layer_with_impossible_households_is_estimated_instead(tmp_path):
    streets_xml = tmp_path / "area.osm"
    streets_xml.write_text(_osm_xml([]), encoding="utf-8")
    x, y = LON + 0.0005, LAT + 0.0005
    layer = gpd.GeoDataFrame(
        {"households": [120, 9e30, -5, 2**63, np.nan], "building": "residential"},
        geometry=[box(x + i * 0.0004, y, x + i * 0.0004 + 0.0002, y + 0.0002)
                  for i in range(5)], crs=4326)
    path = tmp_path / "homes.gpkg"
    layer.to_file(path)
    study = load_study(streets_xml, load_settings(), buildings_path=path)
    hh = study.buildings["households"].to_numpy()
    assert (hh >= 0).all()
    assert hh.max() <= load_settings().limits.max_households_per_building
    assert hh[0] == 120
    assert (study.buildings["hh_check"] == CHECK_GIVEN).sum() == 3
    assert study.homes["households"].sum() < 1000


def test_an_estimate_beyond_the_maximum_is_capped_and_flagged():
    rules = load_settings().households
    huge = box(0, 0, 2000, 2000)  # a 4 km2 "building": a mistagged landuse outline
    buildings = gpd.GeoDataFrame({"building": ["apartments"], "building:levels": ["30"]},
                                 geometry=[huge], crs=32651)
    out = estimate_households(buildings, rules)
    assert out["households"].iloc[0] == rules.max_households_per_building
    assert out["hh_check"].iloc[0] == CHECK_CAPPED


def test_an_extract_concatenated_with_itself_counts_every_household_once(tmp_path):
    once = load_study("default", load_settings())
    data = default_extract_path().read_bytes()
    double = tmp_path / "double.osm.pbf"
    double.write_bytes(data + data)
    twice = load_study(double, load_settings())
    assert int(twice.homes["households"].sum()) == int(once.homes["households"].sum())
    assert len(twice.homes) == len(once.homes)
    assert dict(twice.checks)["duplicates"] > 0
    assert dict(once.checks)["duplicates"] == 0


def test_household_table_rows_with_impossible_figures_are_counted(tmp_path):
    table = tmp_path / "counts.csv"
    pd.DataFrame({"名称": ["甲", "乙", "丙"], "户数": ["120", "1e30", "abc"]}).to_csv(
        table, index=False)
    from gis.data.household_sources import read_household_table

    rows = read_household_table(table)
    assert list(rows["households"]) == [120]
    assert rows.attrs["rows_implausible"] == 1
    assert rows.attrs["rows_without_households"] == 1


def test_a_layer_with_nan_coordinates_drops_them_with_a_count(tmp_path):
    from shapely.geometry import Point

    from gis.data.read import read_layer

    path = tmp_path / "points.geojson"
    path.write_text(
        '{"type": "FeatureCollection", "features": ['
        '{"type": "Feature", "properties": {"a": 1}, "geometry": {"type": "Point", '
        '"coordinates": [121.4, 31.2]}},'
        '{"type": "Feature", "properties": {"a": 2}, "geometry": {"type": "Point", '
        '"coordinates": [NaN, 31.2]}}]}', encoding="utf-8")
    try:
        gdf = read_layer(path)
    except Exception as err:  # noqa: BLE001 - a reader may refuse NaN: then it must say so
        assert getattr(err, "key", None), f"raw {type(err).__name__}: {err}"
        return
    assert len(gdf) == 1
    assert gdf.geometry.iloc[0].equals(Point(121.4, 31.2))
    assert gdf.attrs.get("dropped_coordinates", 0) + gdf.attrs.get("dropped_empty", 0) == 1


@pytest.mark.parametrize("key", ["max_levels", "max_households_per_building"])
def test_the_maxima_come_from_the_settings_file(tmp_path, key):
    text = (Path(__file__).resolve().parents[1] / "data" / "settings.toml").read_text(
        encoding="utf-8")
    changed = tmp_path / "settings.toml"
    old = f"{key} = " + str(getattr(load_settings().limits, key))
    assert old in text
    changed.write_text(text.replace(old, f"{key} = 7"), encoding="utf-8")
    assert getattr(load_settings(changed).households, key) == 7
