"""Standards checklists on a hand-made community with known facilities."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from gis._errors import InputError
from gis.analysis.coverage import compute_coverage
from gis.analysis.standards import check_standards, load_standards
from tests.conftest import UTM, access_of, points


def _community(straight_street, settings, floor_area=None):
    # Homes at 100 m and 1,100 m along a 2 km street; a clinic at 0 m, a shop at 1,000 m,
    # no elderly care.
    homes = points([(100, 0), (1100, 0)], households=[600, 400])
    cols = {"category": ["health", "daily_retail", "community_service"],
            "name": ["诊所", "便利店", "社区服务站"]}
    if floor_area is not None:
        cols["floor_area_m2"] = [None, None, floor_area]
    fac = points([(0, 0), (1000, 0), (50, 0)], **cols)
    return compute_coverage(access_of(straight_street, homes, settings), fac, settings)


def test_known_community_gives_the_known_pass_fail_table(straight_street, settings):
    res = _community(straight_street, settings)
    std = load_standards(None, settings)
    zones = {"community": gpd.GeoDataFrame({"name": ["幸福社区"]},
                                           geometry=[shapely.box(-10, -50, 2010, 50)],
                                           crs=UTM)}
    report = check_standards(res, std, zones)
    table = report.checklist.set_index("rule")
    # Health within 500 m: only the 600 households at 100 m -> 60 % < 90 %: fail.
    assert table.loc["gb10_health", "share"] == pytest.approx(0.6)
    assert not table.loc["gb10_health", "passed"]
    # Shops within 300 m: 400 households (100 m from the shop) -> fail; within 800 m
    # (commerce ministry): 600 at 900 m? no; so 400 again -> fail.
    assert table.loc["gb5_convenience", "share"] == pytest.approx(0.4)
    # Elderly care: none -> 0.
    assert table.loc["gb10_elderly", "share"] == 0
    # Community service within 1,000 m (GB 15-minute): 600 at 50 m; 400 at 1,050 m -> 60 %.
    assert table.loc["gb15_community", "share"] == pytest.approx(0.6)
    att = report.attainment.iloc[0]
    assert att["zone"] == "幸福社区" and att["households"] == 1000
    assert att["attainment_rate"] == pytest.approx(report.checklist["share"].mean())
    # The shortfall list starts with the rule leaving the most households out.
    assert report.shortfall.iloc[0]["households_not_reached"] == 1000
    assert report.shortfall.iloc[0]["category"] == "elderly_care"
    seed = report.seed.iloc[0]
    assert seed["funding_yuan_per_year"] == 10_000
    assert seed["office_area_check"] == "unknown"


def test_office_area_check_uses_floor_areas(straight_street, settings):
    res = _community(straight_street, settings, floor_area=250.0)
    report = check_standards(res, load_standards(None, settings))
    seed = report.seed.iloc[0]
    assert seed["office_area_m2"] == 250 and seed["office_area_check"] == "fail"


def test_a_rule_with_an_unknown_category_is_named(tmp_path, settings):
    bad = tmp_path / "standards.toml"
    bad.write_text('pass_share = 0.9\n[[levels]]\nid = "l"\nname_zh = "级"\nname_en = "l"\n'
                   'distance_m = 500\n[[rules]]\nid = "r1"\nlevel = "l"\ncategory = "karaoke"\n'
                   'type_zh = "歌厅"\ntype_en = "KTV"\nsource = "none"\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"rule 1 \(r1\) names the unknown category `karaoke`"):
        load_standards(bad, settings)


def test_cli_writes_the_xlsx_checklist(tmp_path):
    from gis.cli import main

    out = tmp_path / "standards.xlsx"
    assert main(["standards", "--out", str(out), "--quiet", "--gpkg"]) == 0
    sheets = pd.read_excel(out, sheet_name=None)
    assert set(sheets) == {"attainment", "checklist", "shortfall", "seed_rules"}
    assert "社区卫生服务站" in set(sheets["checklist"]["type_zh"])
