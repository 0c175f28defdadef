"""Household figures from the street office's table, a population raster, and residential
areas with no building mapped; each figure says where it came from."""

from __future__ import annotations

from dataclasses import replace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

from gis._errors import InputError
from gis.data.household_sources import (
    AREA_RULE,
    SOURCE_AREA,
    SOURCE_FLOORS,
    SOURCE_GIVEN,
    SOURCE_RASTER,
    TABLE_RULE,
    area_homes,
    join_household_table,
    read_household_table,
    source_mix,
    spread_population_raster,
)
from gis.data.households import estimate_households
from tests.conftest import UTM


def _landuse(rows):
    return gpd.GeoDataFrame(
        {"osm_id": np.arange(len(rows)), "landuse": [r.get("landuse", "residential")
                                                     for r in rows],
         "name": [r.get("name") for r in rows], "residential": [r.get("residential")
                                                                for r in rows]},
        geometry=[r["geom"] for r in rows], crs=UTM)


def test_an_empty_compound_gets_households_from_its_area_and_is_flagged(settings):
    rules = settings.households
    density = dict(rules.area_density_per_ha)
    landuse = _landuse([
        {"name": "阳光小区", "geom": box(0, 0, 300, 150)},              # 4.5 ha, empty
        {"name": "有楼小区", "geom": box(400, 0, 600, 200)},            # has a building
        {"name": "小院", "geom": box(700, 0, 730, 30)},                 # 900 m2: too small
        {"name": None, "residential": "rural", "geom": box(0, 300, 200, 400)},  # 2 ha
        {"name": "内部", "geom": box(10, 10, 60, 60)},                   # inside 阳光小区
        {"name": "校内", "geom": box(1000, 0, 1100, 100)},               # inside a campus
    ])
    buildings = gpd.GeoDataFrame({"building": ["yes"]}, geometry=[box(450, 50, 480, 80)],
                                 crs=UTM)
    campus = gpd.GeoDataFrame({"kind": ["amenity=university"]},
                              geometry=[box(950, -50, 1150, 150)], crs=UTM)
    out = area_homes(landuse, buildings, rules, areas=campus)
    by_area = out.groupby("area_id")["households"].sum()
    assert set(by_area.index) == {0, 3}
    assert by_area[0] == round(4.5 * density["landuse=residential"])
    assert by_area[3] == round(2.0 * density["residential=rural"])
    # Cut into cells of at most area_cell_m, each inside its area, households by cell area.
    assert (out["area_id"] == 0).sum() == 6  # 300 x 150 m in 100 m cells
    assert out.geometry.area.max() <= rules.area_cell_m ** 2 + 1e-6
    assert (out["hh_rule"] == AREA_RULE).all() and (out["hh_source"] == SOURCE_AREA).all()
    assert set(out.loc[out["area_id"] == 0, "name"]) == {"阳光小区"}
    # A density of 0 for an area type leaves such areas out.
    none = replace(rules, area_density_per_ha=(("landuse=residential", 0.0),))
    assert area_homes(landuse, buildings, none).empty


def test_a_settings_density_without_key_value_is_refused(tmp_path):
    from gis._errors import SettingsError
    from gis.settings import SETTINGS_PATH, load_settings

    text = SETTINGS_PATH.read_text(encoding="utf-8").replace(
        '"landuse=residential" = 150.0', '"residential" = 150.0')
    bad = tmp_path / "settings.toml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(SettingsError, match="area_density_per_ha"):
        load_settings(bad)


def _homes(settings):
    b = gpd.GeoDataFrame(
        {"osm_id": [11, 12, 13, 14, 15],
         "building": ["apartments"] * 5, "building:levels": ["6"] * 5,
         "name": ["阳光花园3号楼", "ＸＸ 公寓", None, None, "Riverside Flats"]},
        geometry=[box(0, 0, 20, 20), box(100, 0, 120, 20), box(200, 0, 220, 20),
                  box(200, 100, 240, 120), box(400, 0, 420, 20)], crs=UTM)
    return estimate_households(b, settings.households)


def test_the_street_office_table_wins_joined_by_name_id_point_and_compound(settings,
                                                                            tmp_path):
    homes = _homes(settings)
    assert (homes["hh_source"] == SOURCE_FLOORS).all()
    compounds = _landuse([{"name": "东 区", "geom": box(190, -10, 250, 130)}])
    lon, lat = gpd.GeoSeries([Point(410, 10)], crs=UTM).to_crs(4326).iloc[0].coords[0]
    # Names differ from the map in spaces and full-width forms; GBK, as Excel saves it.
    table = pd.DataFrame({
        "小区名称": ["阳光花园 3号楼", "xx公寓", "东区", "无此楼", None],
        "户数": [48, 30, 90, 10, 25],
        "osm_id": [None, None, None, None, None],
        "经度": [None, None, None, None, lon], "纬度": [None, None, None, None, lat]})
    path = tmp_path / "街道户数.csv"
    table.to_csv(path, index=False, encoding="gbk")
    rows = read_household_table(path)
    out, report = join_household_table(homes, rows, compounds=compounds)
    assert out["households"].tolist()[:2] == [48, 30]
    # The compound's 90 households spread over its two homes by floor area (1 : 2).
    assert out["households"].tolist()[2:4] == [30, 60]
    assert out["households"].iloc[4] == 25  # by its point
    assert (out["hh_source"] == SOURCE_GIVEN).all()
    assert (out["hh_rule"] == TABLE_RULE).all()
    assert report["matched_by"].tolist() == ["name", "name", "compound name", "unmatched",
                                             "point"]
    assert report["matched_homes"].tolist() == [1, 1, 2, 0, 1]
    # By id, from an XLSX.
    xlsx = tmp_path / "households.xlsx"
    pd.DataFrame({"osm_id": [13], "households": [7]}).to_excel(xlsx, index=False)
    out2, _ = join_household_table(homes, read_household_table(xlsx))
    assert out2["households"].iloc[2] == 7
    assert out2["hh_source"].tolist() == [SOURCE_FLOORS] * 2 + [SOURCE_GIVEN] + [
        SOURCE_FLOORS] * 2


def test_a_household_table_without_the_columns_names_the_file_and_what_it_needs(tmp_path):
    path = tmp_path / "counts.csv"
    path.write_text("小区,人口\n阳光,300\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"counts\.csv: a household table needs a "
                                         r"households column.*found columns 小区, 人口"):
        read_household_table(path)
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"not a spreadsheet")
    with pytest.raises(InputError, match=r"broken\.xlsx: cannot be read as a household"):
        read_household_table(broken)


def _write_raster(path, values, west, north, cell_deg):
    import rasterio
    from rasterio.transform import from_origin

    arr = np.asarray(values, dtype="float32")
    with rasterio.open(path, "w", driver="GTiff", height=arr.shape[0], width=arr.shape[1],
                       count=1, dtype="float32", crs="EPSG:4326", nodata=-99999.0,
                       transform=from_origin(west, north, cell_deg, cell_deg)) as dst:
        dst.write(arr, 1)


def test_a_population_raster_spreads_people_over_homes_by_floor_area(settings, tmp_path):
    homes = _homes(settings).iloc[:4].copy()
    homes.loc[homes.index[3], ["households", "hh_source"]] = [5, SOURCE_GIVEN]
    homes.loc[homes.index[0], "levels"] = 2.0  # floor area 800 m2 beside 2,400 m2
    # Two by two WGS-84 cells of about 175 m (as WorldPop ships them) over the homes:
    # north-west empty (50 people), south-west homes 0 and 1 (1,000), south-east home 2
    # (600), north-east home 3, whose figure is given (400).
    w, s, e, n = gpd.GeoSeries([box(-50, -150, 300, 200)], crs=UTM).to_crs(
        4326).total_bounds
    path = tmp_path / "worldpop.tif"
    _write_raster(path, [[50.0, 400.0], [1000.0, 600.0]], w, n, (e - w) / 2)
    out, counts = spread_population_raster(homes, path, settings.households)
    rph = settings.households.residents_per_household
    people = np.array([250.0, 750.0, 600.0])
    assert out["households"].tolist() == [*np.round(people / rph).astype(int), 5]
    assert out["hh_source"].tolist() == [SOURCE_RASTER] * 3 + [SOURCE_GIVEN]
    assert counts["people_spread"] == pytest.approx(1600.0)
    assert counts["people_without_home"] == pytest.approx(450.0)
    mix = source_mix(out).set_index("source")
    assert mix.loc[SOURCE_RASTER, "homes"] == 3
    # Nodata cells are not people.
    _write_raster(path, [[-99999.0, 0.0], [-99999.0, 600.0]], w, n, (e - w) / 2)
    out, counts = spread_population_raster(homes, path, settings.households)
    assert counts["people_in_raster"] == pytest.approx(600.0)
    assert out["hh_source"].tolist()[:2] == [SOURCE_FLOORS] * 2


def test_a_raster_without_coordinate_system_is_refused_by_name(settings, tmp_path):
    import rasterio

    path = tmp_path / "nocrs.tif"
    with rasterio.open(path, "w", driver="GTiff", height=2, width=2, count=1,
                       dtype="float32") as dst:
        dst.write(np.ones((2, 2), dtype="float32"), 1)
    with pytest.raises(InputError, match=r"nocrs\.tif: the raster declares no coordinate"):
        spread_population_raster(_homes(settings), path, settings.households)
    junk = tmp_path / "junk.tif"
    junk.write_bytes(b"\x00" * 100)
    with pytest.raises(InputError, match=r"junk\.tif: cannot be read as a population raster"):
        spread_population_raster(_homes(settings), junk, settings.households)


def test_the_command_line_takes_the_street_office_table(tmp_path, capsys):
    from gis.cli import main

    path = tmp_path / "table.csv"
    path.write_text("name,households\nＫＥＶＡ ,120\nNo such house,5\n", encoding="utf-8")
    assert main(["households", "--households-table", str(path), "--quiet", "--top",
                 "3"]) == 0
    out = capsys.readouterr().out
    assert "table.csv: 1 of 2 rows matched a home" in out
    assert "No such house" in out
    assert "street office table" in out
    # A table without the columns stops the command with its message, status 2.
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n", encoding="utf-8")
    assert main(["households", "--households-table", str(bad), "--quiet"]) == 2
    assert "bad.csv: a household table needs" in capsys.readouterr().err


def test_an_invalid_residential_outline_is_repaired_not_fatal(settings):
    from shapely.geometry import Polygon

    bowtie = Polygon([(0, 0), (300, 300), (300, 0), (0, 300)])  # self-crossing ring
    assert not bowtie.is_valid
    out = area_homes(_landuse([{"name": "蝴蝶", "geom": bowtie}]),
                     gpd.GeoDataFrame(geometry=[], crs=UTM), settings.households)
    assert len(out) and out.geometry.is_valid.all()
    # Two triangles of 2.25 ha each: 4.5 ha at the density of residential landuse.
    density = dict(settings.households.area_density_per_ha)["landuse=residential"]
    assert out["households"].sum() == round(4.5 * density)


def test_a_users_buildings_layer_is_not_topped_up_with_estimated_areas(settings, tmp_path):
    from gis.study import load_study

    homes = gpd.GeoDataFrame({"households": [40]}, geometry=gpd.points_from_xy(
        [24.9384], [60.1699]), crs="EPSG:4326")
    path = tmp_path / "homes.geojson"
    homes.to_file(path)
    study = load_study(None, settings, buildings_path=path, compounds=False)
    assert "estimated from area" not in set(study.homes["hh_source"])
    assert int(study.homes["households"].sum()) == 40
