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
    for path in GIS.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            params = {kw.arg for kw in node.keywords if kw.arg and kw.arg != "key"}
            if name == "read_toml":  # gis.settings.read_toml names the file as ``where``
                params.add("where")
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
    from gis.data.read import read_facilities

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

    from gis.data.read import read_facilities

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


def _shown_texts(at) -> list[str]:
    """Every text the page shows: labels, options, bodies, help, placeholders, tables.

    A widget's ``value`` is left out: it is an id the page does not show.
    """
    import pandas as pd

    out: list[str] = []

    def walk(node: object) -> None:
        for attr in ("label", "body", "options", "help", "placeholder"):
            value = getattr(node, attr, None)
            if isinstance(value, str):
                out.append(value)
            elif isinstance(value, (list, tuple)):
                out.extend(str(v) for v in value)
        if type(node).__name__ in ("Dataframe", "Table", "Metric"):
            value = getattr(node, "value", None)
            if isinstance(value, pd.DataFrame):
                out.extend(map(str, value.columns))
                out.extend(str(v) for v in value.to_numpy().ravel())
            elif value is not None:
                out.append(str(value))
        children = getattr(node, "children", None)
        if isinstance(children, dict):
            for child in children.values():
                walk(child)

    walk(at._tree)
    return out


def _walk_every_view(lang: str) -> list[str]:
    """Open every view in ``lang`` with its main action done; return all texts shown."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"),
                           default_timeout=300)
    at.run()
    if lang == "en":
        at.radio(key="lang").set_value("en").run()
    shown: list[str] = []
    actions = {"gaps": "run_sites", "grids": "grid_generate", "report": "make_report"}
    for view in ("coverage", "gaps", "scenarios", "grids", "report"):
        at.radio(key=f"view__{lang}").set_value(view).run()
        if view in actions:
            at.button(key=actions[view]).click().run()
        assert not at.exception
        shown += _shown_texts(at)
    return shown


#: Words that are names, not English: formats, products, the language switch, literal
#: column and layer names the user must type.
NOT_ENGLISH = {"English", "OpenStreetMap", "GeoPackage", "GeoJSON", "Shapefile",
               "Leaflet", "Polsby", "Popper", "streets", "households", "ODbL", "Noto",
               "WorldPop", "Amap", "Baidu", "Tianditu", "EPSG", "CGCS", "XLSX", "HTML",
               "GeoTIFF"}


def test_every_view_shows_one_language_at_a_time():
    """English pages hold no Chinese; Chinese pages hold none of the English pages' words.

    Before: siting progress steps, the load report's rows, "add" in the scenarios
    table, True / False and None cells, an English placeholder and "默认：赫尔辛基" after
    another area was loaded appeared in the other language.
    """
    from gis.settings import load_settings
    from gis.study import load_study

    english = _walk_every_view("en")
    chinese = _walk_every_view("zh")
    cjk = re.compile(r"[\u4e00-\u9fff]")
    leaks = sorted({text for text in english if cjk.search(text) and text != "中文"})
    assert leaks == [], f"Chinese on English pages: {leaks[:10]}"
    # Words of the study's own data (Finnish names of places and facilities) are data.
    study = load_study(None, load_settings())
    data = " ".join(str(v) for frame, col in ((study.facilities, "name"),
                                              (study.streets, "name"),
                                              (study.buildings, "name"))
                    if col in frame for v in frame[col].dropna())
    words = re.compile(r"[A-Za-z]{4,}")
    vocabulary = {w.lower() for text in english for w in words.findall(text)}
    allowed = {w.lower() for w in NOT_ENGLISH} | {w.lower() for w in words.findall(data)}
    # File names are names too ("grids_project.gpkg").
    files = re.compile(r"[\w.-]+\.(?:gpkg|geojson|zip|csv|xlsx|pdf|png|html|osm|pbf|bz2)\b")
    found = sorted({w for text in chinese for w in words.findall(files.sub("", text))
                    if w.lower() in vocabulary and w.lower() not in allowed})
    assert found == [], f"English words on Chinese pages: {found[:20]}"
