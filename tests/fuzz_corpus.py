"""A corpus of malformed inputs, written by code, for the loaders' fuzz test.

Every case is a file (or a few) that a user might hand the app or the command line:
truncated and corrupted .osm.pbf, .osm, .osm.bz2, GeoPackage, GeoJSON, zipped Shapefile,
Amap and Baidu CSV / JSON exports, street-office household tables; NaN and infinite
coordinates, wrong types, unclosed rings. ``tests/test_fuzz.py`` feeds each to the
loader it is meant for and ``benchmarks/sessions.py`` reports the tally.

The corpus is seeded: the same cases every run.
"""

from __future__ import annotations

import bz2
import io
import json
import random
import sqlite3
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
from shapely.geometry import Point, box

from gis.data.sources import default_extract_path

ROOT = Path(__file__).resolve().parents[1]
SHANGHAI = ROOT.parent / "shared" / "data" / "shanghai_shu_baoshan" / "map_1.osm"


@dataclass(frozen=True)
class Case:
    """One malformed input: its name, the loader it goes to, and how to write it."""

    name: str
    loader: str  # "area", "facilities", "buildings", "zones", "table"
    write: Callable[[Path], Path]


def _bytes(name: str, data: bytes) -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(data)
        return path
    return write


def _text(name: str, text: str, encoding: str = "utf-8") -> Callable[[Path], Path]:
    return _bytes(name, text.encode(encoding))


def _mutations(data: bytes, rng: random.Random, n: int) -> Iterator[tuple[str, bytes]]:
    """Yield truncations, flipped bytes, zeroed and shuffled spans of ``data``."""
    size = len(data)
    for frac in (0.0005, 0.01, 0.1, 0.33, 0.5, 0.9, 0.999):
        yield f"truncated{frac}", data[: max(1, int(size * frac))]
    for i in range(n):
        buf = bytearray(data)
        for _ in range(rng.choice((1, 4, 32))):
            pos = rng.randrange(size)
            buf[pos] = rng.randrange(256)
        yield f"flipped{i}", bytes(buf)
    for i in range(n // 2):
        buf = bytearray(data)
        start = rng.randrange(size)
        length = rng.choice((16, 256, 4096))
        buf[start:start + length] = b"\x00" * len(buf[start:start + length])
        yield f"zeroed{i}", bytes(buf)
    yield "random", bytes(rng.randrange(256) for _ in range(4096))
    yield "doubled_head", data[: size // 3] + data[: size // 3]


def _osm(body: str, bounds: bool = True) -> str:
    head = ('<bounds minlat="31.20" minlon="121.40" maxlat="31.21" maxlon="121.41"/>'
            if bounds else "")
    return f"<?xml version='1.0' encoding='UTF-8'?>\n<osm version='0.6'>{head}{body}</osm>"


def _street(lat: str = "31.205", lon2: str = "121.409", extra: str = "") -> str:
    return (f'<node id="1" lat="{lat}" lon="121.401"/><node id="2" lat="31.205" '
            f'lon="{lon2}"/>{extra}<way id="10"><nd ref="1"/><nd ref="2"/>'
            '<tag k="highway" v="residential"/></way>')


def xml_cases() -> Iterator[Case]:
    """Hand-written OSM XML with impossible values, and broken XML."""
    bad_values = {
        "nan_lat": _street(lat="nan"), "inf_lon": _street(lon2="inf"),
        "text_lat": _street(lat="abc"), "huge_lat": _street(lat="1e308"),
        "lon_400": _street(lon2="400"), "empty_lat": _street(lat=""),
        "missing_node": '<way id="10"><nd ref="99"/><nd ref="98"/>'
                        '<tag k="highway" v="residential"/></way>',
        "one_node_way": '<node id="1" lat="31.205" lon="121.401"/><way id="10"><nd ref="1"/>'
                        '<tag k="highway" v="residential"/></way>',
        "no_streets": '<node id="1" lat="31.205" lon="121.401"><tag k="amenity" '
                      'v="clinic"/></node>',
        "unclosed_building": _street(extra='<node id="3" lat="31.206" lon="121.402"/>'
                                           '<node id="4" lat="31.207" lon="121.403"/>')
        + '<way id="11"><nd ref="3"/><nd ref="4"/><nd ref="1"/>'
          '<tag k="building" v="apartments"/></way>',
        "levels_text": _street() + '<way id="12"><nd ref="1"/><nd ref="2"/><nd ref="1"/>'
                                   '<tag k="building" v="yes"/><tag k="building:levels" '
                                   'v="many"/></way>',
        "duplicate_ids": _street() + _street(),
        "negative_id": _street().replace('id="10"', 'id="-10"'),
        "huge_id": _street().replace('id="10"', 'id="99999999999999999999999"'),
        "relation_loop": _street() + '<relation id="5"><member type="relation" ref="5" '
                                     'role=""/><tag k="type" v="multipolygon"/>'
                                     '<tag k="building" v="yes"/></relation>',
    }
    for name, body in bad_values.items():
        yield Case(f"osm_{name}", "area", _text(f"{name}.osm", _osm(body)))
        yield Case(f"osm_nobounds_{name}", "area",
                   _text(f"{name}_nb.osm", _osm(body, bounds=False)))
    broken = {
        "empty_root": "<osm/>", "not_osm": "<html><body>hi</body></html>",
        "garbage": "this is not xml at all", "bom_only": "\ufeff",
        "unclosed": "<osm><node id='1' lat='1' lon='1'>",
        "bad_entity": "<osm>&nope;</osm>",
        "doctype_entities": '<?xml version="1.0"?><!DOCTYPE osm [<!ENTITY a "aaaa">]>'
                            "<osm>&a;</osm>",
        "deep": "<osm>" + "<a>" * 200 + "</a>" * 200 + "</osm>",
        "gbk_declared_utf8": "<osm><node id='1' lat='1' lon='1'><tag k='name' v='测试'/>"
                             "</node></osm>",
    }
    for name, text in broken.items():
        enc = "gbk" if name.startswith("gbk") else "utf-8"
        yield Case(f"osm_{name}", "area", _text(f"{name}.osm", text, enc))


def area_cases(rng: random.Random) -> Iterator[Case]:
    """Study-area files: mutated .osm.pbf, .osm and .osm.bz2, and broken GeoPackages."""
    pbf = default_extract_path().read_bytes()
    for name, data in _mutations(pbf, rng, 24):
        yield Case(f"pbf_{name}", "area", _bytes(f"{name}.osm.pbf", data))
    if SHANGHAI.is_file():
        xml = SHANGHAI.read_bytes()
        for name, data in _mutations(xml, rng, 12):
            yield Case(f"xml_{name}", "area", _bytes(f"{name}.osm", data))
        packed = bz2.compress(xml)
        for name, data in _mutations(packed, rng, 6):
            yield Case(f"bz2_{name}", "area", _bytes(f"{name}.osm.bz2", data))
    yield from xml_cases()
    yield Case("gpkg_random", "area", _bytes("area.gpkg", rng.randbytes(8192)))
    yield Case("gpkg_sqlite_no_layers", "area", _sqlite_without_layers)
    yield Case("gpkg_no_streets", "area", _gpkg_of(
        {"buildings": gpd.GeoDataFrame({"a": [1]}, geometry=[box(0, 0, 1, 1)], crs=4326)}))
    yield Case("gpkg_points_as_streets", "area", _gpkg_of(
        {"streets": gpd.GeoDataFrame({"a": [1]}, geometry=[Point(121.4, 31.2)], crs=4326)}))


def _sqlite_without_layers(folder: Path) -> Path:
    path = folder / "empty.gpkg"
    with sqlite3.connect(path) as con:
        con.execute("create table t (a int)")
    return path


def _gpkg_of(layers: dict[str, gpd.GeoDataFrame], name: str = "area.gpkg"
             ) -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        path = folder / name
        for layer, frame in layers.items():
            frame.to_file(path, layer=layer, driver="GPKG")
        return path
    return write


def _feature(geometry: object, **props: object) -> dict:
    return {"type": "Feature", "properties": props, "geometry": geometry}


def _collection(*features: dict) -> str:
    # allow_nan: NaN and Infinity are written as the bare words some exporters emit
    return json.dumps({"type": "FeatureCollection", "features": list(features)},
                      ensure_ascii=False, allow_nan=True)


def layer_cases(rng: random.Random) -> Iterator[Case]:
    """Facility, building and zone layers: GeoJSON, GeoPackage and zipped Shapefiles."""
    pt = {"type": "Point", "coordinates": [121.405, 31.205]}
    sq = {"type": "Polygon", "coordinates": [[[121.40, 31.20], [121.401, 31.20],
                                              [121.401, 31.201], [121.40, 31.201],
                                              [121.40, 31.20]]]}
    geoms = {
        "nan_point": {"type": "Point", "coordinates": [float("nan"), 31.2]},
        "inf_point": {"type": "Point", "coordinates": [float("inf"), 31.2]},
        "text_coords": {"type": "Point", "coordinates": ["a", "b"]},
        "one_coord": {"type": "Point", "coordinates": [121.4]},
        "null_geometry": None,
        "unclosed_ring": {"type": "Polygon", "coordinates": [[[121.40, 31.20],
                                                              [121.401, 31.20],
                                                              [121.401, 31.201]]]},
        "bowtie": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1],
                                                       [0, 0]]]},
        "three_d": {"type": "Point", "coordinates": [121.405, 31.205, 12.0]},
        "lon_400": {"type": "Point", "coordinates": [400.0, 31.2]},
        "empty_multi": {"type": "MultiPolygon", "coordinates": []},
        "unknown_type": {"type": "Circle", "coordinates": [121.4, 31.2]},
        "nested_collection": {"type": "GeometryCollection", "geometries": [pt, sq]},
        "huge_coords": {"type": "Point", "coordinates": [1e308, -1e308]},
    }
    props = {
        "category_int": {"category": 5}, "category_null": {"category": None},
        "category_list": {"category": ["health"]}, "category_unknown": {"category": "spa"},
        "category_float": {"category": 1.5}, "category_bool": {"category": True},
        "households_text": {"category": "health", "households": "many"},
        "households_huge": {"category": "health", "households": 1e300},
        "households_negative": {"category": "health", "households": -3},
        "franchise_odd": {"category": "health", "franchise": {"a": 1}},
        "name_number": {"category": "health", "name": 12345},
    }
    for loader in ("facilities", "buildings", "zones"):
        base = pt if loader == "facilities" else sq
        for gname, geom in geoms.items():
            text = _collection(_feature(geom, category="health", households=10, name="x"),
                               _feature(base, category="health", households=10, name="y"))
            yield Case(f"{loader}_geojson_{gname}", loader, _text(f"{gname}.geojson", text))
            yield Case(f"{loader}_geojson_only_{gname}", loader,
                       _text(f"only_{gname}.geojson",
                             _collection(_feature(geom, category="health"))))
        for pname, p in props.items():
            text = _collection(_feature(base, **p), _feature(base, **p))
            yield Case(f"{loader}_geojson_{pname}", loader, _text(f"{pname}.geojson", text))
        good = _collection(*[_feature(base, category="health", households=10, name=f"n{i}")
                             for i in range(20)]).encode()
        for mname, data in _mutations(good, rng, 6):
            yield Case(f"{loader}_geojson_{mname}", loader, _bytes(f"{mname}.geojson", data))
        for name, text in {"empty": "", "array": "[]", "number": "42",
                           "no_features": '{"type": "FeatureCollection"}',
                           "features_not_list": '{"type": "FeatureCollection", "features": 1}',
                           "crs_bogus": _collection(_feature(base, category="health"))
                           .replace('{"type": "FeatureCollection",',
                                    '{"type": "FeatureCollection", "crs": {"type": "name", '
                                    '"properties": {"name": "EPSG:999999"}},')}.items():
            yield Case(f"{loader}_geojson_{name}", loader, _text(f"{name}.geojson", text))
        yield from _shapefile_cases(loader, base, rng)
        yield Case(f"{loader}_gpkg_random", loader, _bytes("layer.gpkg", rng.randbytes(4096)))
        yield Case(f"{loader}_gpkg_sqlite", loader, _sqlite_without_layers)


def _shapefile_cases(loader: str, geom: dict, rng: random.Random) -> Iterator[Case]:
    from shapely.geometry import shape

    frame = gpd.GeoDataFrame({"category": ["health"] * 5, "households": [10] * 5},
                             geometry=[shape(geom)] * 5, crs=4326)

    def parts(folder: Path) -> dict[str, bytes]:
        tmp = folder / "shp_parts"
        tmp.mkdir(exist_ok=True)
        frame.to_file(tmp / "layer.shp")
        return {p.name: p.read_bytes() for p in tmp.iterdir()}

    def zipped(name: str, change: Callable[[dict[str, bytes]], dict[str, bytes]]
               ) -> Callable[[Path], Path]:
        def write(folder: Path) -> Path:
            path = folder / name
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
                for member, data in change(parts(folder)).items():
                    zf.writestr(member, data)
            path.write_bytes(buf.getvalue())
            return path
        return write

    def without(ext: str) -> Callable[[dict[str, bytes]], dict[str, bytes]]:
        return lambda p: {k: v for k, v in p.items() if not k.endswith(ext)}

    def corrupt(ext: str, cut: float) -> Callable[[dict[str, bytes]], dict[str, bytes]]:
        return lambda p: {k: (v[: int(len(v) * cut)] if k.endswith(ext) else v)
                          for k, v in p.items()}

    for ext in (".shx", ".dbf", ".prj", ".shp"):
        yield Case(f"{loader}_zip_without{ext}", loader, zipped(f"no{ext[1:]}.zip",
                                                                without(ext)))
    for ext in (".shp", ".shx", ".dbf", ".prj"):
        for cut in (0.1, 0.6):
            yield Case(f"{loader}_zip_cut{ext}{cut}", loader,
                       zipped(f"cut{ext[1:]}{cut}.zip", corrupt(ext, cut)))
    yield Case(f"{loader}_zip_empty", loader, zipped("empty.zip", lambda p: {}))
    yield Case(f"{loader}_zip_prj_garbage", loader, zipped(
        "prj.zip", lambda p: {**p, "layer.prj": b"GEOGCS[garbage"}))

    def truncated_zip(folder: Path) -> Path:
        whole = zipped("whole.zip", lambda p: p)(folder).read_bytes()
        path = folder / "truncated.zip"
        path.write_bytes(whole[: len(whole) // 2])
        return path

    yield Case(f"{loader}_zip_truncated", loader, truncated_zip)
    yield Case(f"{loader}_zip_random", loader, _bytes("random.zip", rng.randbytes(2048)))


def poi_cases(rng: random.Random) -> Iterator[Case]:
    """Amap and Baidu POI exports (CSV and JSON) with broken or strange values."""
    head = "name,type,typecode,location\n"
    rows = {
        "ok": "诊所,医疗保健服务;诊所,090300,121.405,31.205\n",
        "location_text": '诊所,医疗保健服务;诊所,090300,"abc"\n',
        "location_nan": '诊所,医疗保健服务;诊所,090300,"nan,nan"\n',
        "location_inf": '诊所,医疗保健服务;诊所,090300,"inf,31.2"\n',
        "location_one": '诊所,医疗保健服务;诊所,090300,"121.4"\n',
        "location_empty": "诊所,医疗保健服务;诊所,090300,\n",
        "location_huge": '诊所,医疗保健服务;诊所,090300,"1e308,1e308"\n',
        "typecode_text": '诊所,医疗保健服务;诊所,abc,"121.405,31.205"\n',
        "ragged": '诊所,医疗保健服务;诊所,090300,"121.405,31.205",extra,cols\n',
        "quote_open": '诊所,"医疗保健服务;诊所,090300,121.405\n',
    }
    for name, row in rows.items():
        yield Case(f"amap_csv_{name}", "facilities", _text(f"amap_{name}.csv", head + row))
        yield Case(f"amap_csv_gbk_{name}", "facilities",
                   _text(f"amap_gbk_{name}.csv", head + row, "gbk"))
    for name, text in {"empty": "", "header_only": head, "binary": "\x00\x01\x02\xff",
                       "no_location": "name,type\n诊所,医疗\n",
                       "semicolons": "name;type;location\n诊所;医疗;121.4,31.2\n"}.items():
        yield Case(f"amap_csv_{name}", "facilities", _text(f"amap_{name}.csv", text, "latin-1"
                                                           if name == "binary" else "utf-8"))
    yield Case("amap_csv_random", "facilities", _bytes("amap_random.csv", rng.randbytes(2048)))
    amap = {"pois": [{"name": "诊所", "type": "医疗保健服务;诊所", "typecode": "090300",
                      "location": "121.405,31.205"}]}
    baidu = {"results": [{"name": "诊所", "location": {"lat": 31.205, "lng": 121.405},
                          "detail_info": {"tag": "医疗;诊所"}}]}
    json_cases = {
        "amap_ok": amap,
        "amap_pois_not_list": {"pois": 5},
        "amap_pois_strings": {"pois": ["a", "b"]},
        "amap_location_number": {"pois": [{**amap["pois"][0], "location": 121.4}]},
        "amap_location_list": {"pois": [{**amap["pois"][0], "location": [121.4, 31.2]}]},
        "amap_location_null": {"pois": [{**amap["pois"][0], "location": None}]},
        "amap_type_int": {"pois": [{**amap["pois"][0], "type": 5, "typecode": 5}]},
        "amap_empty": {"pois": []},
        "baidu_ok": baidu,
        "baidu_location_text": {"results": [{**baidu["results"][0], "location": "x"}]},
        "baidu_lat_text": {"results": [{**baidu["results"][0],
                                        "location": {"lat": "a", "lng": "b"}}]},
        "baidu_lat_missing": {"results": [{**baidu["results"][0], "location": {}}]},
        "baidu_detail_list": {"results": [{**baidu["results"][0], "detail_info": [1]}]},
        "baidu_results_null": {"results": None},
        "list_of_numbers": [1, 2, 3],
        "list_of_lists": [[1, 2], [3]],
        "string": "pois",
        "nested_deep": {"pois": [{"name": {"a": {"b": {"c": 1}}},
                                  "location": "121.4,31.2"}]},
    }
    for name, data in json_cases.items():
        yield Case(f"poi_json_{name}", "facilities",
                   _text(f"{name}.json", json.dumps(data, ensure_ascii=False)))
    good = json.dumps(amap, ensure_ascii=False).encode()
    for name, data in _mutations(good, rng, 4):
        yield Case(f"poi_json_{name}", "facilities", _bytes(f"amap_{name}.json", data))


def table_cases(rng: random.Random) -> Iterator[Case]:
    """Street-office household tables: CSV and XLSX with broken values."""
    texts = {
        "ok": "名称,户数\n阳光小区,300\n",
        "households_text": "名称,户数\n阳光小区,很多\n",
        "households_huge": "名称,户数\n阳光小区,1e300\n",
        "households_inf": "名称,户数\n阳光小区,inf\n",
        "no_columns": "a,b\n1,2\n",
        "empty": "",
        "header_only": "名称,户数\n",
        "lonlat_text": "经度,纬度,户数\nx,y,300\n",
        "lonlat_nan": "经度,纬度,户数\nnan,nan,300\n",
        "osm_id_text": "osm_id,户数\nabc,300\n",
        "ragged": "名称,户数\n阳光小区,300,extra,more\n",
    }
    for name, text in texts.items():
        yield Case(f"table_{name}", "table", _text(f"{name}.csv", text))
        yield Case(f"table_gbk_{name}", "table", _text(f"gbk_{name}.csv", text, "gbk"))
    yield Case("table_random_csv", "table", _bytes("random.csv", rng.randbytes(2048)))
    yield Case("table_random_xlsx", "table", _bytes("random.xlsx", rng.randbytes(2048)))
    yield Case("table_zip_not_xlsx", "table", _zip_as_xlsx)


def _zip_as_xlsx(folder: Path) -> Path:
    path = folder / "fake.xlsx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("hello.txt", "not a workbook")
    return path


def corpus(seed: int = 20261124) -> list[Case]:
    """Return every case, in a fixed order."""
    rng = random.Random(seed)
    return [*area_cases(rng), *layer_cases(rng), *poi_cases(rng), *table_cases(rng)]


def run_case(case: Case, folder: Path) -> tuple[str, str, Path]:
    """Feed a case to its loader; return its outcome, the detail and the file written.

    Outcomes: "accepted" (a plausible result), "wrong" (accepted, but the result is not
    plausible), "refused" (the project's clear message, a GisError), "traceback"
    (anything else raised).
    """
    import traceback

    from gis._errors import GisError
    from gis.data.household_sources import read_household_table
    from gis.data.read import read_buildings, read_facilities, read_zones
    from gis.settings import load_settings
    from gis.study import load_study

    folder.mkdir(parents=True, exist_ok=True)
    path = case.write(folder)
    settings = load_settings()
    loaders: dict[str, Callable[[Path], object]] = {
        "area": lambda p: load_study(p, settings),
        "facilities": lambda p: read_facilities(p, settings),
        "buildings": read_buildings,
        "zones": read_zones,
        "table": read_household_table,
    }
    try:
        result = loaders[case.loader](path)
    except GisError as err:
        return "refused", str(err), path
    except Exception:  # noqa: BLE001 - what the fuzz test counts
        return "traceback", traceback.format_exc(limit=6), path
    problem = check_result(case.loader, result)
    return ("accepted", "", path) if problem is None else ("wrong", problem, path)


def check_result(loader: str, result: object) -> str | None:
    """Return what is wrong with an accepted case's result (None: plausible).

    A layer must hold valid geometries with finite coordinates in degrees; a study area
    non-negative households on homes with finite coordinates; a table finite,
    non-negative household figures.
    """
    import numpy as np
    import pandas as pd
    import shapely

    if loader == "table":
        hh = pd.to_numeric(result["households"], errors="coerce").to_numpy(dtype=float)
        return None if np.isfinite(hh).all() and (hh >= 0).all() else "bad households"
    frame = result.homes if loader == "area" else result  # type: ignore[attr-defined]
    geoms = np.asarray(frame.geometry.values)
    if len(geoms) == 0:
        return None
    with np.errstate(invalid="ignore"):
        bounds = shapely.bounds(geoms)
    if not np.isfinite(bounds).all():
        return "non-finite coordinates"
    if loader != "area" and (np.abs(bounds[:, [0, 2]]).max() > 180 or
                             np.abs(bounds[:, [1, 3]]).max() > 90):
        return "coordinates outside degrees"
    if loader == "area":
        hh = frame["households"].to_numpy()
        if (hh < 0).any() or hh.sum() > 10_000_000:
            return "impossible households"
    return None
