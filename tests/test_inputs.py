"""Bad input gets one clear message naming the file, the problem and the fix."""

from __future__ import annotations

import tomllib
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import Point, Polygon

from gis._errors import EmptyInputError, InputError, SettingsError
from gis.crs import wgs84_to_gcj02
from gis.data.read import read_buildings, read_facilities, read_layer
from gis.data.sources import load_osm
from gis.data.write import write_gpkg_atomic
from gis.settings import SETTINGS_PATH, load_settings, parse_settings


def _fac(tmp_path: Path, **cols: list[object]) -> Path:
    n = len(next(iter(cols.values())))
    gdf = gpd.GeoDataFrame(cols, geometry=[Point(24.94, 60.17)] * n, crs="EPSG:4326")
    path = tmp_path / "fac.geojson"
    gdf.to_file(path)
    return path


def test_empty_file_names_the_file(tmp_path, settings):
    path = tmp_path / "empty.gpkg"
    path.write_bytes(b"")
    with pytest.raises(EmptyInputError, match=r"empty\.gpkg: the file is empty"):
        read_facilities(path, settings)


def test_broken_file_names_the_file_and_the_fix(tmp_path, settings):
    path = tmp_path / "broken.geojson"
    path.write_text("{ this is not json", encoding="utf-8")
    with pytest.raises(InputError, match=r"broken\.geojson: cannot be read.*GeoPackage"):
        read_facilities(path, settings)


def test_facilities_without_category_column_list_the_columns(tmp_path, settings):
    path = _fac(tmp_path, kind=["health"], name=["a"])
    with pytest.raises(InputError, match=r"no `category` column.*Columns found: kind, name"):
        read_facilities(path, settings)


def test_unknown_categories_are_listed_with_counts(tmp_path, settings):
    path = _fac(tmp_path, category=["health", "karaoke", "karaoke", "养老服务"],
                name=["a", "b", "c", "d"])
    with pytest.raises(InputError, match=r"2 facilities have an unknown category: 'karaoke' "
                                         r"\(2 rows\)"):
        read_facilities(path, settings)


def test_chinese_and_english_category_names_are_accepted(tmp_path, settings):
    path = _fac(tmp_path, category=["养老服务", "Health", "catering"], name=["a", "b", "c"],
                franchise=["是", "no", "true"])
    fac = read_facilities(path, settings)
    assert fac["category"].tolist() == ["elderly_care", "health", "catering"]
    assert fac["franchise"].tolist() == [True, False, True]
    assert fac["merchant"].tolist() == [True, False, True]


def test_declared_gcj02_facilities_are_moved_to_wgs84(tmp_path, settings):
    true_lng, true_lat = 121.4737, 31.2304
    glng, glat = wgs84_to_gcj02(true_lng, true_lat)
    gdf = gpd.GeoDataFrame({"category": ["health"]}, geometry=[Point(glng, glat)],
                           crs="EPSG:4326")
    path = tmp_path / "amap.geojson"
    gdf.to_file(path)
    fac = read_facilities(path, settings, declared_crs="gcj02")
    p = fac.geometry.iloc[0]
    assert abs(p.x - true_lng) < 1e-6 and abs(p.y - true_lat) < 1e-6


def test_shapefile_zip_without_prj_asks_for_a_declaration(tmp_path, settings):
    gdf = gpd.GeoDataFrame({"category": ["health"]}, geometry=[Point(24.94, 60.17)],
                           crs="EPSG:4326")
    shp_dir = tmp_path / "shp"
    shp_dir.mkdir()
    gdf.to_file(shp_dir / "fac.shp")
    zpath = tmp_path / "fac.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for f in shp_dir.iterdir():
            if f.suffix != ".prj":
                zf.write(f, f.name)
    with pytest.raises(InputError, match=r"fac\.zip: .*no coordinate system.*declare one"):
        read_facilities(zpath, settings)
    fac = read_facilities(zpath, settings, declared_crs="wgs84")
    assert fac.crs.to_epsg() == 4326


def test_a_zipped_shapefile_inside_folders_in_cgcs2000_gauss_krueger_is_read(tmp_path):
    # What Windows "send to compressed folder" makes of a folder: the files one level
    # down (here two, with a macOS resource copy beside them); EPSG:4547 is CGCS2000
    # 3-degree Gauss-Krueger, central meridian 114 E.
    gdf = gpd.GeoDataFrame({"households": [12]}, geometry=[Point(500000, 3400000)],
                           crs="EPSG:4547")
    shp_dir = tmp_path / "shp"
    shp_dir.mkdir()
    gdf.to_file(shp_dir / "homes.shp")
    zpath = tmp_path / "homes.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for f in shp_dir.iterdir():
            zf.write(f, f"街道/住宅/{f.name}")
        zf.writestr("__MACOSX/街道/住宅/._homes.shp", b"\x00\x05\x16\x07")
    homes = read_layer(zpath, kind="buildings")
    assert homes.crs.to_epsg() == 4326
    p = homes.geometry.iloc[0]
    assert abs(p.x - 114.0) < 1e-6 and 30.0 < p.y < 31.0


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_projected_coordinates_declared_as_degrees_are_refused(tmp_path):
    gdf = gpd.GeoDataFrame({"category": ["health"]}, geometry=[Point(385000, 6672000)])
    path = tmp_path / "utm.gpkg"
    gdf.to_file(path)
    with pytest.raises(InputError, match="not degrees"):
        read_layer(path, declared_crs="wgs84")
    out = read_layer(path, declared_crs="EPSG:32635")
    assert 24 < out.geometry.iloc[0].x < 26


def test_cgcs2000_layer_is_accepted(tmp_path):
    gdf = gpd.GeoDataFrame({"category": ["health"]}, geometry=[Point(121.47, 31.23)],
                           crs="EPSG:4490")
    path = tmp_path / "cgcs.gpkg"
    gdf.to_file(path)
    out = read_layer(path)
    assert out.crs.to_epsg() == 4326
    assert abs(out.geometry.iloc[0].x - 121.47) < 1e-6


def test_layer_of_only_empty_geometries_is_refused(tmp_path):
    gdf = gpd.GeoDataFrame({"category": ["health"]}, geometry=[Polygon()], crs="EPSG:4326")
    path = tmp_path / "hollow.gpkg"
    gdf.to_file(path)
    with pytest.raises(EmptyInputError, match="empty geometry"):
        read_layer(path)


def test_buildings_households_column_must_hold_numbers(tmp_path):
    gdf = gpd.GeoDataFrame({"households": ["many"]},
                           geometry=[Point(24.94, 60.17).buffer(0.0001)], crs="EPSG:4326")
    path = tmp_path / "b.gpkg"
    gdf.to_file(path)
    with pytest.raises(InputError, match="holds no numbers"):
        read_buildings(path)


def test_corrupt_pbf_gives_one_clear_message(tmp_path, settings):
    path = tmp_path / "city.osm.pbf"
    path.write_bytes(b"\x00\x00\x00\x0dnot a real protobuf block" * 40)
    with pytest.raises(InputError, match=r"city\.osm\.pbf: cannot be read.*again"):
        load_osm(path, settings)


def test_broken_osm_xml_gives_one_clear_message(tmp_path, settings):
    path = tmp_path / "area.osm"
    path.write_text("<osm><node id='1' lat='1' lon='1'>", encoding="utf-8")
    with pytest.raises(InputError, match=r"area\.osm: cannot be read"):
        load_osm(path, settings)


def test_unknown_study_area_file_type_is_refused(tmp_path, settings):
    path = tmp_path / "area.csv"
    path.write_text("a,b\n", encoding="utf-8")
    with pytest.raises(InputError, match="unknown file type"):
        load_osm(path, settings)


def test_atomic_write_keeps_the_previous_file_when_writing_fails(tmp_path):
    path = tmp_path / "project.gpkg"
    good = gpd.GeoDataFrame({"v": [1]}, geometry=[Point(0, 0)], crs="EPSG:4326")
    write_gpkg_atomic(path, {"layer": good})
    before = path.read_bytes()
    # Complex numbers cannot be stored in a GeoPackage: the second layer fails.
    with pytest.raises(Exception, match="(?i)complex|type|support"):
        write_gpkg_atomic(path, {"layer": good, "broken": pd.DataFrame({"x": [1 + 2j]})})
    assert path.read_bytes() == before
    assert pyogrio.list_layers(path)[:, 0].tolist() == ["layer"]
    assert [p.name for p in tmp_path.iterdir()] == ["project.gpkg"]


def test_settings_file_errors_name_the_key():
    raw = tomllib.loads(SETTINGS_PATH.read_text(encoding="utf-8"))
    raw["walk"]["default_profile"] = "runner"
    with pytest.raises(SettingsError, match="walk.default_profile"):
        parse_settings(raw)
    raw = tomllib.loads(SETTINGS_PATH.read_text(encoding="utf-8"))
    del raw["network"]["snap_max_m"]
    with pytest.raises(SettingsError, match="network.snap_max_m` is missing"):
        parse_settings(raw)
    raw = tomllib.loads(SETTINGS_PATH.read_text(encoding="utf-8"))
    raw["categories"][0]["threshold_min"] = "ten"
    with pytest.raises(SettingsError, match=r"categories\[0\]\.threshold_min"):
        parse_settings(raw)


def test_invalid_toml_names_the_file(tmp_path):
    bad = tmp_path / "settings.toml"
    bad.write_text("[walk\nthreshold_min = 10", encoding="utf-8")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings(bad)


def test_cgcs2000_gauss_kruger_zone_layers_are_accepted(tmp_path):
    # EPSG:4549 is CGCS2000 / 3-degree Gauss-Kruger CM 120E (Shanghai, Suzhou).
    pt = gpd.GeoSeries([Point(121.47, 31.23)], crs="EPSG:4326").to_crs("EPSG:4549")
    gdf = gpd.GeoDataFrame({"category": ["health"], "name": ["徐汇区卫生服务中心"]},
                           geometry=pt.values, crs="EPSG:4549")
    path = tmp_path / "survey.gpkg"
    gdf.to_file(path)
    out = read_layer(path)
    assert out.crs.to_epsg() == 4326
    assert abs(out.geometry.iloc[0].x - 121.47) < 1e-6
    assert out["name"].iloc[0] == "徐汇区卫生服务中心"


def test_chinese_names_round_trip_through_every_format(tmp_path):
    import pandas as pd

    gdf = gpd.GeoDataFrame({"name": ["幸福社区-01网格"], "households": [300]},
                           geometry=[Point(121.47, 31.23).buffer(0.001)], crs="EPSG:4326")
    gdf.to_file(tmp_path / "a.geojson")
    gdf.to_file(tmp_path / "a.gpkg")
    gdf.to_file(tmp_path / "a.shp", encoding="UTF-8")
    assert (tmp_path / "a.cpg").read_text().strip().upper().replace("-", "") == "UTF8"
    pd.DataFrame(gdf.drop(columns="geometry")).to_excel(tmp_path / "a.xlsx", index=False)
    for name in ("a.geojson", "a.gpkg", "a.shp"):
        assert read_layer(tmp_path / name)["name"].iloc[0] == "幸福社区-01网格"
    assert pd.read_excel(tmp_path / "a.xlsx")["name"].iloc[0] == "幸福社区-01网格"


def test_a_bad_window_is_refused_with_the_form_it_needs(tmp_path, capsys):
    from gis.cli import main

    with pytest.raises(SystemExit) as stop:
        main(["coverage", "--bbox", "1,2,3", "--out", str(tmp_path / "x.gpkg")])
    assert stop.value.code == 2
    assert "west,south,east,north" in capsys.readouterr().err
    # A window with no street in it names the window.
    assert main(["coverage", "--bbox", "0,0,0.01,0.01", "--quiet",
                 "--out", str(tmp_path / "y.gpkg")]) == 2
    assert "window" in capsys.readouterr().err


def test_tag_values_read_every_form_of_tags_and_skip_rows_without_the_keys():
    import json

    import numpy as np

    from gis.data.sources import tag_values

    rows = np.array([
        {"amenity": "clinic", "name": "A"},                                 # osmnx: a dict
        json.dumps({"amenity": "school", "access": "private"}),           # pyrosm: JSON text
        json.dumps({"名称": "社区卫生服务站"}, ensure_ascii=False),          # key as written
        json.dumps({"名称": "养老驿站"}),                                     # key escaped
        json.dumps({"name": "amenity"}),          # the key only as a value: parsed, absent
        json.dumps({"highway": "footway"}),       # none of the keys: not parsed
        '{"amenity": "broken',                    # broken JSON: nothing, no exception
        json.dumps(["amenity"]),                  # not an object
        None, float("nan"), "",
    ], dtype=object)
    amenity, access, name_zh = tag_values(rows, ["amenity", "access", "名称"])
    assert list(amenity) == ["clinic", "school", None, None, None, None, None, None, None,
                             None, None]
    assert list(access) == [None, "private", *([None] * 9)]
    assert list(name_zh) == [None, None, "社区卫生服务站", "养老驿站", *([None] * 7)]
    assert tag_values(rows, []) == []
