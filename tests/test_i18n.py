"""Every message gis/ can show has a Chinese template, with matching placeholders."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

from gis._errors import InputError, Msg
from layers.i18n import MESSAGES_ZH, TEXT, translate_message

GIS = Path(__file__).resolve().parent.parent / "gis"


def _keyed_messages() -> dict[str, set[str]]:
    """Return each message key used in gis/ with the parameter names given with it."""
    found: dict[str, set[str]] = {}
    for path in GIS.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            params = {kw.arg for kw in node.keywords if kw.arg and kw.arg != "key"}
            key = None
            if name == "Msg" and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant):
                key = node.args[1].value
            for kw in node.keywords:
                if kw.arg == "key" and isinstance(kw.value, ast.Constant):
                    key = kw.value.value
            if key:
                found.setdefault(key, set()).update(params)
    return found


def test_every_message_key_has_a_chinese_template_with_its_parameters():
    keyed = _keyed_messages()
    assert len(keyed) > 40
    for key, params in keyed.items():
        assert key in MESSAGES_ZH, key
        fields = {f for _t, f, _s, _c in string.Formatter().parse(MESSAGES_ZH[key]) if f}
        assert fields <= params, (key, fields - params)


def test_layer_problem_items_have_templates_too():
    for item in ("p_geometry_type", "p_shifted_projected", "p_unknown_crs", "p_crs_conflict",
                 "p_no_crs", "p_not_degrees"):
        assert item in MESSAGES_ZH


def test_every_interface_text_is_chinese_in_the_chinese_table():
    for key, entry in TEXT.items():
        assert re.search(r"[\u4e00-\u9fff]", entry["zh"]) or key == "basemap_osm", key
    for key, template in MESSAGES_ZH.items():
        assert re.search(r"[\u4e00-\u9fff]", template), key


def test_a_real_error_is_shown_in_chinese(tmp_path, settings):
    from gis.io import read_facilities

    bad = tmp_path / "设施.geojson"
    bad.write_text("{ broken", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_facilities(bad, settings)
    zh = translate_message(str(err.value), err.value.key, err.value.params, "zh")
    assert zh.startswith("设施.geojson：无法作为 GIS 图层读取")
    assert translate_message(str(err.value), err.value.key, err.value.params, "en") == \
        str(err.value)


def test_a_shapefile_without_prj_gets_a_chinese_list_of_problems(tmp_path, settings):
    import zipfile

    import geopandas as gpd
    from shapely.geometry import Point

    from gis.io import read_facilities

    gdf = gpd.GeoDataFrame({"category": ["health"]}, geometry=[Point(24.9, 60.2)],
                           crs="EPSG:4326")
    gdf.to_file(tmp_path / "f.shp")
    with zipfile.ZipFile(tmp_path / "f.zip", "w") as zf:
        for f in tmp_path.glob("f.*"):
            if f.suffix not in (".prj", ".zip"):
                zf.write(f, f.name)
    with pytest.raises(InputError) as err:
        read_facilities(tmp_path / "f.zip", settings)
    zh = translate_message(str(err.value), err.value.key, err.value.params, "zh")
    assert "没有坐标系" in zh and "f.zip" in zh


def test_edit_messages_translate():
    msg = Msg("Refused: a grid needs a name.", "refuse_no_name")
    assert translate_message(str(msg), msg.key, msg.params, "zh") == "已拒绝：网格需要名称。"
