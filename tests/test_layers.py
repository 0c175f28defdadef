"""Map layers: offline standalone HTML, no personal data, sizes."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from gis.coverage import compute_coverage
from gis.gridedit import GridEditor
from gis.grids import make_blocks, plan_grids
from gis.study import load_study
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
    assert time_colour(float("inf")) == "#9e9e9e"


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


def test_a_city_draws_homes_as_dots_with_the_same_tooltips(helsinki, settings, monkeypatch):
    import layers.coverage

    _study, result = helsinki
    outlines = coverage_map(result, "health", settings, basemap="none").get_root().render()
    monkeypatch.setattr(layers.coverage, "HOMES_AS_POINTS_ABOVE", 10)
    dots = coverage_map(result, "health", settings, basemap="none").get_root().render()
    assert '"type": "Point"' in dots
    assert dots.count('"type": "Polygon"') < outlines.count('"type": "Polygon"')
    assert "circleMarker" in dots or "circle_marker" in dots
    assert len(dots) < len(outlines)
