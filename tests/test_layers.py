"""Map layers: offline standalone HTML, no personal data, sizes."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from gis.analysis.coverage import compute_coverage
from gis.study import load_study
from gis.zoning.blocks import make_blocks
from gis.zoning.editor import GridEditor
from gis.zoning.generate import plan_grids
from layers.base import map_size_bytes, standalone_html
from layers.coverage import coverage_map, time_colour
from layers.grids import grids_map


@pytest.fixture(scope="module")
def helsinki(settings):
    study = load_study(None, settings)
    result = compute_coverage(study.access(), study.facilities, settings)
    return study, result


def test_time_colours_follow_the_legend_classes():
    assert time_colour(4.9) == time_colour(5.0) != time_colour(5.1)
    assert time_colour(float("inf")) == "#d9d9d9"


def test_standalone_html_needs_no_network(helsinki, settings):
    _study, result = helsinki
    page = standalone_html(coverage_map(result, "health", settings, basemap="none"))
    assert "<script src=" not in page.replace('<script src="data:', "")
    assert '<link rel="stylesheet"' not in page and "cdn." not in page
    assert "L.map(" in page or "L.map (" in page


def test_map_payload_is_small(helsinki, settings):
    _study, result = helsinki
    assert map_size_bytes(coverage_map(result, "health", settings)) < 5_000_000


def test_grid_map_never_shows_grid_workers(helsinki, settings):
    study, _result = helsinki
    plan = plan_grids(make_blocks(study.streets, study.homes, settings.grids),
                      replace(settings.grids))
    editor = GridEditor(plan)
    g = sorted(plan.grid_names)[0]
    editor.set_worker(g, "王五", "13712345678")
    page = standalone_html(grids_map(editor.plan, basemap="none"))
    # Text inside the map's GeoJSON is written as JSON escapes; look for both forms.
    for secret in ("王五", "13712345678"):
        assert secret not in page and json.dumps(secret)[1:-1] not in page
    assert json.dumps(plan.grid_names[g])[1:-1] in page


def _homes_data(page: str) -> dict:
    """Return the homes layer's data written into a map page."""
    import re

    found = re.search(r"var d = (\{\"cat\".*?\});\n", page)
    assert found, "no homes layer in the page"
    return json.loads(found.group(1))


def _facilities_data(page: str) -> dict:
    """Return the facility markers' data written into a map page (the first layer)."""
    import re

    found = re.search(r"d = (\{\"at\".*?\});\n", page)
    assert found, "no facilities layer in the page"
    return json.loads(found.group(1))


def _decode(text: str, precision: int = 5) -> list[tuple[float, float]]:
    """Decode Google's encoded polyline (the page's scDecode, written again in Python)."""
    out, i, lat, lng = [], 0, 0, 0
    while i < len(text):
        vals = []
        for _ in range(2):
            shift = result = 0
            while True:
                b = ord(text[i]) - 63
                i += 1
                result |= (b & 31) << shift
                shift += 5
                if b < 32:
                    break
            vals.append(~(result >> 1) if result & 1 else result >> 1)
        lat += vals[0]
        lng += vals[1]
        out.append((lat / 10 ** precision, lng / 10 ** precision))
    return out


def test_a_city_draws_homes_as_dots_with_the_same_tooltips(helsinki, settings, monkeypatch):
    import layers.coverage

    _study, result = helsinki
    outlines = coverage_map(result, "health", settings, basemap="none").get_root().render()
    monkeypatch.setattr(layers.coverage, "HOMES_AS_POINTS_ABOVE", 10)
    dots = coverage_map(result, "health", settings, basemap="none").get_root().render()
    shapes, points = _homes_data(outlines), _homes_data(dots)
    assert not shapes["dots"] and points["dots"]
    assert "L.circleMarker(at[i]" in dots  # homes as dots (facilities are SVG icons)
    assert len(dots) < len(outlines)
    # One dot a home, at its centroid (1 m precision); the same tooltip data for both.
    at = _decode(points["shapes"])
    assert len(at) == len(result.homes) == len(shapes["shapes"])
    centroids = result.homes.geometry.centroid.to_crs("EPSG:4326")
    assert max(abs(lat - c.y) + abs(lon - c.x) for (lat, lon), c in
               zip(at, centroids, strict=True)) < 2e-5
    for key in ("hh", "name", "m", "speed", "catNames"):
        assert shapes[key] == points[key]


def test_homes_carry_every_category_so_a_switch_only_recolours_them(helsinki, settings):
    import numpy as np

    from layers.base import map_parts, overlay_script
    from layers.coverage import category_layers, coverage_base_map

    _study, result = helsinki
    base = map_parts(coverage_base_map(result, settings, basemap="none"))
    data = _homes_data(base.script)
    assert data["cats"] == list(result.categories)
    assert data["speed"] == {c: 80.0 for c in result.categories}  # the default profile
    for c in result.categories:
        dist = result.homes[f"dist_m_{c}"].to_numpy()
        sent = np.array([np.inf if m is None else m for m in data["m"][c]])
        assert np.array_equal(sent, np.ceil(dist))
        # Rounded up, a home is within the threshold on the page exactly when covered.
        assert np.array_equal(sent <= result.thresholds[c].metres,
                              result.homes[f"covered_{c}"].to_numpy())
    assert data["hh"] == result.homes["households"].astype(int).tolist()
    # A switch sends the category's layers only: the circle, the facilities and the call
    # that recolours the homes and retitles the legend; never the homes again.
    layers = overlay_script(category_layers(result, "daily_retail", settings))
    assert 'window.scHomes.setCategory("daily_retail", {"community_service": 80.0' in layers
    assert '"facilities"' in layers and '"circle"' in layers
    assert "scHomes = " not in layers and len(layers) < len(base.script)
    n = int((result.facilities["category"] == "daily_retail").sum())
    assert len(_facilities_data(layers)["at"]) == n


def test_a_walking_profile_changes_the_speed_sent_not_the_drawn_homes(helsinki, settings):
    import numpy as np

    from gis.analysis.coverage import CoverageOptions
    from layers.base import map_parts, overlay_script
    from layers.coverage import category_layers, coverage_base_map

    study, adult = helsinki
    elderly = compute_coverage(adult.access, study.facilities, settings,
                               CoverageOptions(profile="elderly"))
    a = _homes_data(map_parts(coverage_base_map(adult, settings, basemap="none")).script)
    e = _homes_data(map_parts(coverage_base_map(elderly, settings, basemap="none")).script)
    # The homes carry distances: the same under both profiles; only the speed differs.
    assert a["m"] == e["m"] and a["hh"] == e["hh"]
    assert set(e["speed"].values()) == {60.0} and set(a["speed"].values()) == {80.0}
    # The elderly layers, sent to the map drawn for adults, set the elderly speed.
    layers = overlay_script(category_layers(elderly, "health", settings))
    assert 'setCategory("health", {"community_service": 60.0' in layers
    # At 60 m a minute the page's minutes for each home are the elderly result's.
    minutes = elderly.homes["time_min_health"].to_numpy()
    shown = np.array([np.inf if m is None else m / 60.0 for m in a["m"]["health"]])
    finite = np.isfinite(minutes)
    assert np.array_equal(finite, np.isfinite(shown))
    assert np.allclose(shown[finite], minutes[finite], atol=1 / 60.0)


def test_encoded_polylines_round_trip_and_match_the_reference():
    import numpy as np
    import shapely

    from layers.base import encode_polylines, encoded_shapes

    # Google's documented example.
    ref = np.array([[-120.2, 38.5], [-120.95, 40.7], [-126.453, 43.252]])
    assert encode_polylines(ref, np.array([0])) == ["_p~iF~ps|U_ulLnnqC_mqNvxq`@"]
    rng = np.random.default_rng(7)
    pts = np.column_stack([rng.uniform(-180, 180, 500), rng.uniform(-85, 85, 500)])
    starts = np.array([0, 1, 200, 499])
    runs = encode_polylines(pts, starts)
    assert len(runs) == 4
    back = [p for run in runs for p in _decode(run)]
    assert np.abs(np.array(back)[:, ::-1] - pts).max() <= 0.5e-5 + 1e-12
    # Shapes: a polygon with a hole, a multipolygon, lines and multilines.
    hole = shapely.box(0, 0, 1, 1).difference(shapely.box(0.2, 0.2, 0.4, 0.4))
    multi = shapely.MultiPolygon([shapely.box(0, 0, 1, 1), shapely.box(2, 2, 3, 3)])
    polys = encoded_shapes(np.array([hole, multi]))
    assert [len(p) for p in polys] == [1, 2] and len(polys[0][0]) == 2
    assert _decode(polys[1][1][0])[0] == (2.0, 3.0)  # (lat, lon) of the box's first corner
    lines = encoded_shapes(np.array([shapely.MultiLineString([[(0, 0), (1, 1)], [(2, 2),
                                                                                (3, 3)]]),
                                     shapely.LineString([(5, 5), (6, 6)])]))
    assert [len(x) for x in lines] == [2, 1] and _decode(lines[1][0]) == [(5, 5), (6, 6)]


def test_screen_outlines_keep_the_area_and_drop_what_collapses():
    import numpy as np
    import shapely

    from layers.base import screen_outline

    rng = np.random.default_rng(3)
    lines = [shapely.LineString(rng.uniform(0, 2000, (6, 2))) for _ in range(60)]
    area = shapely.union_all(shapely.buffer(np.array(lines), 25, quad_segs=8))
    speck = shapely.box(5000, 5000, 5000.5, 5000.5)
    shown = screen_outline(shapely.union_all([area, speck]), 2.0)
    assert abs(shown.area - area.area) / area.area < 0.01
    assert shapely.get_num_coordinates(shown) < shapely.get_num_coordinates(area)
    assert not shown.intersects(shapely.box(4999, 4999, 5001, 5001))  # collapsed: dropped


# Machado, Oliveira & Fernandes (2009), severity 1.0, in linear RGB.
CVD = {
    "deuteranopia": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                     [-0.011820, 0.042940, 0.968881]],
    "protanopia": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                   [-0.003882, -0.048116, 1.051998]],
    "tritanopia": [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602],
                   [0.004733, 0.691367, 0.303900]],
}


def _lab(hex_colour, matrix=None):
    """Return CIELAB (D65) of a hex colour, as seen under ``matrix`` (None: normal vision)."""
    import numpy as np

    rgb = np.array([int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)])
    lin = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    if matrix is not None:
        lin = np.clip(np.array(matrix) @ lin, 0, 1)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722],
                    [0.0193, 0.1192, 0.9505]]) @ lin / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 216 / 24389, np.cbrt(xyz), (24389 / 27 * xyz + 16) / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def _worst_pair(colours, matrix):
    import itertools

    import numpy as np

    return min(float(np.linalg.norm(_lab(a, matrix) - _lab(b, matrix)))
               for a, b in itertools.combinations(colours, 2))


def test_walking_time_colours_stay_apart_and_in_order_for_colour_blind_readers():
    from layers.coverage import CIRCLE_COLOUR, TIME_CLASSES, UNREACHABLE_COLOUR

    classes = [c for _, c in TIME_CLASSES]
    for name, matrix in CVD.items():
        # Every pair of classes, the unreachable grey and the circle stays distinguishable.
        assert _worst_pair([*classes, UNREACHABLE_COLOUR, CIRCLE_COLOUR], matrix) > 12, name
        # Lightness falls with walking time, so the order reads without hue.
        lightness = [_lab(c, matrix)[0] for c in classes]
        assert all(a > b + 5 for a, b in zip(lightness, lightness[1:], strict=False)), name
    # The red-yellow-green ramp it replaced fails: its order is carried by hue alone
    # (lightness rises to the yellow middle and falls again), which deuteranopia takes away.
    old = ["#1a9850", "#91cf60", "#fee08b", "#fc8d59", "#d73027"]
    old_lightness = [_lab(c, CVD["deuteranopia"])[0] for c in old]
    assert not all(a > b + 5 for a, b in zip(old_lightness, old_lightness[1:], strict=False))


def test_facility_markers_differ_by_shape_not_by_the_class_colours(helsinki, settings):
    from layers.coverage import CATEGORY_SHAPES, MARKER_FILL, TIME_CLASSES, marker_svg

    shapes = [marker_svg(s) for s in CATEGORY_SHAPES.values()]
    assert len(set(shapes)) == len(CATEGORY_SHAPES) == len(set(CATEGORY_SHAPES.values()))
    assert MARKER_FILL not in {c for _, c in TIME_CLASSES}
    _study, result = helsinki
    page = standalone_html(coverage_map(result, "health", settings, basemap="none"))
    markers = _facilities_data(page)
    assert len(markers["at"]) == int((result.facilities["category"] == "health").sum())
    assert "fac-marker" in page and all("<polygon" in icon for icon in markers["icons"])
    # The health cross, inline (no icon font); franchise merchants ringed gold.
    assert markers["icons"][0] == marker_svg("cross", 16)


def test_a_copied_map_keeps_its_legend(helsinki, settings):
    # The app copies the shared coverage map before st_folium renames its elements; a
    # plain deep copy lost the legend's template macros and the map showed no legend.
    from layers.base import copy_map

    _study, result = helsinki
    fmap = coverage_map(result, "health", settings, basemap="none")
    copied = copy_map(fmap).get_root().render()
    assert copied.count('class="sc-legend"') == 1  # the box
    assert copied.count(".sc-legend span") == 1  # and its style
    assert "0–5" in copied and "L.control.scale" in copied  # legend and scale bar
    assert fmap.get_root().render().count('class="sc-legend"') == 1  # the original untouched


def test_place_index_finds_streets_communities_and_grids_by_name():
    import geopandas as gpd
    from shapely.geometry import LineString, box

    from gis.data.places import place_index
    from tests.conftest import UTM

    streets = gpd.GeoDataFrame(
        {"name": ["长江路", "长江路", None, " ", "黄河路"]},
        geometry=[LineString([(0, 0), (100, 0)]), LineString([(100, 0), (300, 0)]),
                  LineString([(0, 50), (10, 50)]), LineString([(0, 60), (10, 60)]),
                  LineString([(0, 0), (0, 500)])], crs=UTM)
    zones = {"community": gpd.GeoDataFrame({"name": ["社区1"]},
                                           geometry=[box(0, 0, 300, 500)], crs=UTM)}
    index = place_index(streets, zones)
    assert list(index["name"]) == ["社区1", "长江路", "黄河路"]
    assert list(index["kind"]) == ["community", "street", "street"]
    # The two parts of a street are one place spanning both.
    one = gpd.GeoSeries([LineString([(0, 0), (300, 0)])], crs=UTM).to_crs("EPSG:4326")
    west, _s, east, _n = one.total_bounds
    row = index[index["name"] == "长江路"].iloc[0]
    assert row["west"] == pytest.approx(west) and row["east"] == pytest.approx(east)
    assert place_index(None).empty and place_index(streets.iloc[2:4]).empty


def test_names_from_the_data_are_shown_as_text_never_run_as_templates(helsinki, settings):
    # branca renders every element's output once more as a Jinja template: a street
    # named "{{ 7*7*1001 }}" came out as "49049" (and a crafted name could run code).
    import geopandas as gpd
    from shapely.geometry import LineString

    from gis.zoning.blocks import make_blocks
    from gis.zoning.editor import GridEditor
    from gis.zoning.generate import plan_grids
    from layers.base import base_map, standalone_html
    from tests.conftest import UTM

    hostile = ["{{ 7*7*1001 }}", "</script><script>alert(1)</script>", "{% raw %}x", "{#"]
    streets = gpd.GeoDataFrame(
        {"highway": ["residential"] * 4, "name": hostile},
        geometry=[LineString([(0, i * 50), (600, i * 50)]) for i in range(4)], crs=UTM)
    bounds = streets.to_crs("EPSG:4326").total_bounds
    page = standalone_html(base_map(bounds, basemap="none", streets=streets))
    assert "{ { 7*7*1001 }}" in page and "49049" not in page
    assert "</script><script>alert(1)" not in page  # cannot close the map's script
    assert "{ % raw %}x" in page
    # A facility named so, in its tooltip.
    study, result = helsinki
    fac = result.facilities.copy()
    first = fac.index[fac["category"] == "health"][0]
    fac.loc[first, "name"] = "{{ 6*7*1001 }}"
    from dataclasses import replace

    page = standalone_html(coverage_map(replace(result, facilities=fac), "health", settings,
                                        basemap="none"))
    assert "{ { 6*7*1001 }}" in page and "42042" not in page
    # A grid renamed so by a user, on the grids map and its labels.
    blocks = make_blocks(study.streets, study.homes, settings.grids)
    editor = GridEditor(plan_grids(blocks, settings.grids))
    assert editor.rename(sorted(editor.plan.grid_names)[0], "{{ 8*8*1001 }}").ok
    page = standalone_html(grids_map(editor.plan, basemap="none"))
    assert "{ { 8*8*1001 }}" in page and "64064" not in page


def test_gap_outlines_are_encoded_once_per_polygon(helsinki, settings, monkeypatch):
    # After a click most gap polygons are those drawn before (find_gaps(reuse=...)): their
    # outlines are not simplified and encoded again.
    import layers.gaps
    from gis.analysis.gaps import find_gaps
    from layers.base import overlay_script
    from layers.gaps import gaps_layers

    _study, result = helsinki
    gaps = find_gaps(result, "health", settings)
    first = overlay_script(gaps_layers(gaps, result.facilities, settings))
    drawn = []
    real = layers.gaps.for_display
    monkeypatch.setattr(layers.gaps, "for_display",
                        lambda gdf, **kw: drawn.append(len(gdf)) or real(gdf, **kw))
    again = overlay_script(gaps_layers(gaps, result.facilities, settings))
    assert drawn == [] and again == first
    one_new = gaps.areas.copy()
    one_new.loc[0, "geometry"] = one_new.geometry.iloc[0].buffer(5)
    from dataclasses import replace

    overlay_script(gaps_layers(replace(gaps, areas=one_new), result.facilities, settings))
    assert drawn == [1]  # only the changed polygon


def test_grid_labels_are_one_script_with_every_grid_larger_first(helsinki, settings):
    import re


    study, _result = helsinki
    plan = plan_grids(make_blocks(study.streets, study.homes, settings.grids), settings.grids)
    page = standalone_html(grids_map(plan, basemap="none"))
    found = re.search(r"var d = (\[\[.*?\]\]), shown", page)
    assert found, "no grid labels in the page"
    labels = json.loads(found.group(1).replace("<\\/", "</"))
    grids = plan.grids_gdf()
    assert len(labels) == len(grids)
    by_area = grids.iloc[np.argsort(-grids.geometry.area.to_numpy(), kind="stable")]
    for (_lat, _lon, html), (_, g) in zip(labels, by_area.iterrows(), strict=True):
        assert html.startswith(f"{g['name']}<br><b>{int(g['households'])}</b>")
    assert "sc-grid-label" in page and page.count("L.divIcon({className: \"sc-grid-label\"") == 1


def test_streets_drawn_are_the_streets_merged_by_name_and_type(helsinki):
    import shapely

    from layers.base import STREET_WIDTHS, street_lines

    study, _result = helsinki
    streets = study.streets
    kept = streets[streets["highway"].astype(str).isin(list(STREET_WIDTHS))]
    lines = street_lines(streets)
    # One row per (name, type), nothing lost or drawn twice, and each segment joined to
    # the segments it continues (far fewer parts than segments).
    pairs = set(zip(kept["name"].fillna("").astype(str), kept["highway"].astype(str),
                    strict=True))
    assert set(zip(lines["name"], lines["highway"], strict=True)) == pairs
    assert len(lines) == len(pairs)
    drawn = shapely.length(lines.geometry.values).sum()
    assert drawn == pytest.approx(shapely.length(kept.geometry.values).sum(), rel=1e-6)
    union = shapely.union_all(kept.geometry.values)
    assert shapely.length(shapely.union_all(lines.geometry.values)) == pytest.approx(
        shapely.length(union), rel=1e-6)
    assert shapely.get_num_geometries(lines.geometry.values).sum() < len(kept) / 3
