"""Limits on what input may become: bombs, deep nesting, too many features (gis/limits.py).

The bombs are written by the tests: a .osm.bz2 of a few KB that expands to 10 GB, and a
zip of points that expands to 10 million features. Each is refused through the loader the
app and the command line call, in a child process whose time and peak memory are measured.
"""

from __future__ import annotations

import bz2
import json
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import LineString, Point

from gis._errors import InputError
from gis.data.read import read_facilities, read_layer
from gis.data.sources import default_extract_path, load_osm
from gis.limits import check_input, check_pbf, check_xml
from gis.settings import Limits, load_settings

ROOT = Path(__file__).resolve().parents[1]

#: Runs a loader in a fresh interpreter and prints its seconds, peak memory growth (MB)
#: and the error's key, so that a bomb's memory is measured apart from pytest's own.
CHILD = """
import resource, sys, time
from gis.settings import load_settings
settings = load_settings()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
key = "accepted"
try:
    if sys.argv[1] == "area":
        from gis.data.sources import load_osm
        load_osm(sys.argv[2], settings)
    else:
        from gis.data.read import read_facilities
        read_facilities(sys.argv[2], settings)
except Exception as err:
    key = getattr(err, "key", None) or type(err).__name__
    print(str(err), file=sys.stderr)
seconds = time.perf_counter() - t
grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
print(f"{seconds:.2f} {grown:.0f} {key}")
"""


def _child(kind: str, path: Path) -> tuple[float, float, str, str]:
    done = subprocess.run([sys.executable, "-c", CHILD, kind, str(path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=True)
    seconds, grown, key = done.stdout.split()[-3:]
    return float(seconds), float(grown), key, done.stderr


def write_bz2_bomb(path: Path, gigabytes: int = 10) -> Path:
    """Write an .osm.bz2 that expands to ``gigabytes`` GB of XML (bzip2 streams repeated)."""
    head = bz2.compress(b"<?xml version='1.0' encoding='UTF-8'?>\n<osm version='0.6'>")
    spaces = bz2.compress(b" " * 50_000_000)
    with path.open("wb") as f:
        f.write(head)
        for _ in range(gigabytes * 20):
            f.write(spaces)
    return path


def write_points_zip(path: Path, points: int = 10_000_000) -> Path:
    """Write a zipped GeoJSON of ``points`` identical facility points (about 3.7 MB)."""
    feature = json.dumps({"type": "Feature", "properties": {"category": "health"},
                          "geometry": {"type": "Point", "coordinates": [24.94, 60.17]}})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf, \
            zf.open("points.geojson", "w", force_zip64=True) as f:
        f.write(b'{"type": "FeatureCollection", "features": [')
        block = (feature.encode() + b",") * 10_000
        for _ in range(points // 10_000 - 1):
            f.write(block)
        f.write(block[:-1] + b"]}")
    return path


def test_a_bz2_bomb_is_refused_fast_and_in_little_memory(tmp_path):
    bomb = write_bz2_bomb(tmp_path / "area.osm.bz2")
    assert bomb.stat().st_size < 100_000
    seconds, grown, key, err = _child("area", bomb)
    assert key == "bomb", err
    assert seconds < 5
    assert grown < 300
    assert "area.osm.bz2" in err and "[limits]" in err


def test_a_zip_of_ten_million_points_is_refused_fast_and_in_little_memory(tmp_path):
    bomb = write_points_zip(tmp_path / "stations.zip")
    assert bomb.stat().st_size < 6_000_000
    seconds, grown, key, err = _child("facilities", bomb)
    assert key == "bomb", err
    assert seconds < 5
    assert grown < 300
    assert "stations.zip" in err


def test_a_zip_within_the_ratio_is_refused_by_its_feature_count(tmp_path):
    path = tmp_path / "stations.geojson"
    gpd.GeoDataFrame({"category": ["health"] * 40},
                     geometry=[Point(24.94 + i / 1e3, 60.17) for i in range(40)],
                     crs=4326).to_file(path)
    with pytest.raises(InputError) as caught:
        read_layer(path, limits=Limits(max_features=30))
    assert caught.value.key == "too_many_features"
    assert "40" in str(caught.value)
    assert len(read_layer(path, limits=Limits(max_features=40))) == 40


def test_a_layer_of_too_many_vertices_is_refused(tmp_path):
    path = tmp_path / "lines.geojson"
    line = LineString([(24.9 + i / 1e4, 60.1) for i in range(500)])
    gpd.GeoDataFrame({"a": [1, 2]}, geometry=[line, line], crs=4326).to_file(path)
    with pytest.raises(InputError) as caught:
        read_layer(path, limits=Limits(max_vertices=999))
    assert caught.value.key == "too_many_vertices"
    assert len(read_layer(path, limits=Limits(max_vertices=1000))) == 2


def test_a_million_deep_osm_xml_is_refused_at_once(tmp_path):
    path = tmp_path / "deep.osm"
    depth = 1_000_000
    path.write_bytes(b"<osm>" + b"<a>" * depth + b"</a>" * depth + b"</osm>")
    t = time.perf_counter()
    with pytest.raises(InputError) as caught:
        load_osm(path, load_settings())
    assert caught.value.key == "xml_too_deep"
    assert time.perf_counter() - t < 5
    assert "deep.osm" in str(caught.value)


def test_xml_entities_are_refused(tmp_path):
    path = tmp_path / "laughs.osm"
    path.write_text('<?xml version="1.0"?><!DOCTYPE osm [<!ENTITY a "aaaaaaaaaa">'
                    '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><osm>&b;</osm>')
    with pytest.raises(InputError) as caught:
        check_xml(path, Limits())
    assert caught.value.key == "xml_entities"


def test_xml_with_too_many_elements_is_refused(tmp_path):
    path = tmp_path / "many.osm"
    path.write_text("<osm>" + '<node id="1" lat="0" lon="0"/>' * 101 + "</osm>")
    with pytest.raises(InputError) as caught:
        check_xml(path, Limits(max_xml_elements=100))
    assert caught.value.key == "xml_too_many"
    assert check_xml(path, Limits(max_xml_elements=102))["depth"] == 2


def test_real_extracts_pass_and_report_what_they_expand_to():
    limits = load_settings().limits
    found = check_input(default_extract_path(), limits)
    assert found["kind"] == "pbf"
    assert found["blocks"] > 1
    # The blocks declare more than the packed file: they are zlib-compressed.
    assert found["expanded"] > default_extract_path().stat().st_size


def test_a_truncated_pbf_is_named_before_pyrosm_reads_it(tmp_path):
    data = default_extract_path().read_bytes()
    cut = tmp_path / "cut.osm.pbf"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError) as caught:
        check_pbf(cut, Limits())
    assert caught.value.key == "bad_pbf"
    assert "cut.osm.pbf" in str(caught.value)


def test_a_pbf_whose_blocks_expand_beyond_the_limit_is_refused():
    declared = check_pbf(default_extract_path(), Limits())["expanded"]
    with pytest.raises(InputError) as caught:
        check_pbf(default_extract_path(), Limits(max_expanded_mb=declared / 2e6))
    assert caught.value.key == "bomb"


def test_a_corrupt_bz2_is_refused_with_its_name(tmp_path):
    good = bz2.compress(b"<osm>" + b'<node id="1" lat="0" lon="0"/>' * 1000 + b"</osm>")
    path = tmp_path / "broken.osm.bz2"
    path.write_bytes(good[:40] + b"\x00" * 200 + good[240:])
    with pytest.raises(InputError) as caught:
        load_osm(path, load_settings())
    assert caught.value.key in {"bad_archive", "bad_xml"}
    assert "broken.osm.bz2" in str(caught.value)


def test_limits_in_the_settings_file_are_checked(tmp_path):
    from gis._errors import SettingsError

    text = (ROOT / "data" / "settings.toml").read_text(encoding="utf-8")
    bad = tmp_path / "settings.toml"
    bad.write_text(text.replace("max_ratio = 200", "max_ratio = -1"), encoding="utf-8")
    with pytest.raises(SettingsError, match="limits.max_ratio"):
        load_settings(bad)


def test_the_server_upload_limit_is_the_settings_limit():
    """Streamlit refuses a larger upload in the browser, before it reaches the server."""
    import tomllib

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["server"]["maxUploadSize"] == load_settings().max_upload_mb


def test_facility_points_in_a_small_zip_are_still_read(tmp_path):
    path = write_points_zip(tmp_path / "few.zip", points=20_000)
    facilities = read_facilities(path, load_settings())
    assert len(facilities) == 20_000
