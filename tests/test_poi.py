"""Amap and Baidu POI exports: type mapping, coordinate conversion, unusable rows."""

from __future__ import annotations

import json

import pytest
from pyproj import Geod

from gis._errors import InputError
from gis.crs import gcj02_to_wgs84
from gis.data.poi import read_poi_export
from gis.data.read import read_facilities
from tests.test_crs import BD_GCJ, WGS_GCJ

GEOD = Geod(ellps="WGS84")


def _m(lng1, lat1, lng2, lat2):
    return float(GEOD.inv(lng1, lat1, lng2, lat2)[2])


def test_amap_csv_rows_land_within_two_metres_of_the_true_position(tmp_path, settings):
    rows = ["name,type,typecode,location"]
    kinds = [("老王面馆", "餐饮服务;中餐厅;中餐厅", "050100"),
             ("便民超市", "购物服务;便民商店/便利店;便利店", "060200"),
             ("社区卫生服务站", "医疗保健服务;诊所;诊所", "090300")]
    for (_wlng, _wlat, glng, glat), (name, typ, code) in zip(WGS_GCJ, kinds, strict=True):
        rows.append(f'{name},{typ},{code},"{glng},{glat}"')
    path = tmp_path / "amap.csv"
    path.write_text("\n".join(rows), encoding="utf-8")
    imp = read_poi_export(path, settings)
    assert imp.provider == "amap"
    assert imp.facilities["category"].tolist() == ["catering", "daily_retail", "health"]
    for p, (wlng, wlat, _g1, _g2) in zip(imp.facilities.geometry, WGS_GCJ, strict=True):
        assert _m(p.x, p.y, wlng, wlat) < 2.0
    assert imp.report.empty


def test_baidu_json_rows_are_converted_from_bd09(tmp_path, settings):
    blng, blat, glng, glat = BD_GCJ[0]
    wlng, wlat = gcj02_to_wgs84(glng, glat)
    data = {"status": 0, "results": [
        {"name": "星光老年之家", "location": {"lat": blat, "lng": blng},
         "detail_info": {"tag": "生活服务;养老院"}},
        {"name": "无坐标的店", "detail_info": {"tag": "美食"}},
        {"name": "KTV", "location": {"lat": blat, "lng": blng},
         "detail_info": {"tag": "休闲娱乐;KTV"}},
    ]}
    path = tmp_path / "baidu.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    imp = read_poi_export(path, settings)
    assert imp.provider == "baidu"
    assert imp.facilities["category"].tolist() == ["elderly_care"]
    p = imp.facilities.geometry.iloc[0]
    assert _m(p.x, p.y, float(wlng), float(wlat)) < 2.0
    report = imp.report.set_index("problem")
    assert report.loc["no coordinates", "rows"] == 1
    assert report.loc["type not mapped", "value"] == "休闲娱乐;KTV"


def test_an_export_with_nothing_usable_names_the_problems(tmp_path, settings):
    path = tmp_path / "amap.csv"
    path.write_text('name,type,location\n卡拉OK,休闲娱乐;KTV,"121.47,31.23"\n'
                    '错位,餐饮服务,"31.23,121.47"\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"amap\.csv: none of its 2 rows.*outside China"
                                         r".*type not mapped 休闲娱乐;KTV \(1 rows\)"):
        read_poi_export(path, settings)


def test_facilities_option_reads_poi_exports_and_keeps_the_report(tmp_path, settings):
    wlng, wlat, glng, glat = WGS_GCJ[0]
    path = tmp_path / "pois.csv"
    path.write_text(f'name,type,lng,lat\n小吃店,餐饮服务;快餐厅,{glng},{glat}\n'
                    f'未知,其他,{glng},{glat}\n', encoding="utf-8")
    fac = read_facilities(path, settings, declared_crs="gcj02")
    assert fac["category"].tolist() == ["catering"]
    assert fac.attrs["poi_report"]["rows"].sum() == 1
    assert _m(fac.geometry.iloc[0].x, fac.geometry.iloc[0].y, wlng, wlat) < 2.0


def test_unknown_category_in_the_mapping_file_is_refused(tmp_path, settings):
    bad = tmp_path / "mapping.toml"
    bad.write_text('[[rules]]\ncategory = "karaoke"\nkeywords = ["KTV"]\n', encoding="utf-8")
    path = tmp_path / "a.csv"
    path.write_text('name,type,location\nx,KTV,"121.47,31.23"\n', encoding="utf-8")
    with pytest.raises(InputError, match="unknown categories"):
        read_poi_export(path, settings, mapping=bad)
