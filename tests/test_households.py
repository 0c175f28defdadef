"""Which buildings house people, and how many households, by the documented rule."""

from __future__ import annotations

import geopandas as gpd
import pytest
from shapely.geometry import box

from gis.data.households import (
    GENERIC_DEFAULT,
    GENERIC_NON_RESIDENTIAL_LANDUSE,
    GENERIC_RESIDENTIAL_LANDUSE,
    GENERIC_SMALL,
    GIVEN,
    NON_RESIDENTIAL_TAG,
    NON_RESIDENTIAL_TYPE,
    RESIDENTIAL_TYPE,
    estimate_households,
    household_report,
)
from tests.conftest import UTM


def _buildings(rows):
    cols = ["building", "building:levels", "height", "shop", "households"]
    data = {c: [r.get(c) for r in rows] for c in cols}
    return gpd.GeoDataFrame(data, geometry=[r["geom"] for r in rows], crs=UTM)


def test_rules_classify_each_kind_of_building(settings):
    landuse = gpd.GeoDataFrame({"landuse": ["residential", "commercial"]},
                               geometry=[box(0, 0, 100, 100), box(200, 0, 300, 100)], crs=UTM)
    rows = [
        {"building": "apartments", "building:levels": "5", "geom": box(500, 0, 530, 30)},
        {"building": "yes", "geom": box(10, 10, 40, 40)},            # in residential landuse
        {"building": "yes", "geom": box(210, 10, 240, 40)},          # in commercial landuse
        {"building": "yes", "geom": box(600, 0, 630, 30)},           # no landuse, 900 m2
        {"building": "yes", "geom": box(700, 0, 705, 5)},            # 25 m2 shed
        {"building": "yes", "shop": "bakery", "geom": box(50, 50, 80, 80)},
        {"building": "church", "geom": box(800, 0, 850, 50)},
        {"building": "yes", "households": 42, "geom": box(900, 0, 910, 10)},
    ]
    out = estimate_households(_buildings(rows), settings.households, landuse=landuse)
    assert out["hh_rule"].tolist() == [
        RESIDENTIAL_TYPE, GENERIC_RESIDENTIAL_LANDUSE, GENERIC_NON_RESIDENTIAL_LANDUSE,
        GENERIC_DEFAULT, GENERIC_SMALL, NON_RESIDENTIAL_TAG, NON_RESIDENTIAL_TYPE, GIVEN]
    assert out["residential"].tolist() == [True, True, False, True, False, False, False, True]
    # 900 m2 x 5 floors / 90 m2 = 50 households; default 4 floors: 900 x 4 / 90 = 40.
    assert out["households"].tolist() == [50, 40, 0, 40, 0, 0, 0, 42]


def test_floors_come_from_height_when_levels_are_missing(settings):
    rows = [{"building": "residential", "height": "18 m", "geom": box(0, 0, 30, 30)}]
    out = estimate_households(_buildings(rows), settings.households)
    assert out["levels"].iloc[0] == 6
    assert out["households"].iloc[0] == 60


def test_a_tiny_home_still_has_one_household(settings):
    rows = [{"building": "house", "building:levels": "1", "geom": box(0, 0, 5, 5)}]
    out = estimate_households(_buildings(rows), settings.households)
    assert out["households"].iloc[0] == 1


def test_report_counts_buildings_and_households_per_rule(settings):
    rows = [
        {"building": "apartments", "building:levels": "3", "geom": box(0, 0, 30, 30)},
        {"building": "apartments", "building:levels": "3", "geom": box(100, 0, 130, 30)},
        {"building": "church", "geom": box(200, 0, 230, 30)},
    ]
    rep = household_report(estimate_households(_buildings(rows), settings.households))
    first = rep.iloc[0]
    assert (first["rule"], first["buildings"], first["households"]) == (RESIDENTIAL_TYPE, 2, 60)
    assert rep["buildings"].sum() == 3


def test_campus_buildings_and_names_decide_who_lives_there(settings):
    from gis.data.households import (
        GENERIC_NON_RESIDENTIAL_AREA,
        GROUP_QUARTERS,
        NAME_HOME,
        NAME_NOT_HOME,
        non_residential_areas,
    )

    # A university mapped as an amenity area, inside residential landuse (as Chinese
    # campuses often are), beside a residential compound with numbered buildings.
    landuse = gpd.GeoDataFrame({"landuse": ["residential"]}, geometry=[box(0, 0, 1000, 500)],
                               crs=UTM)
    pois = gpd.GeoDataFrame({"amenity": ["university", "cafe"], "office": [None, None]},
                            geometry=[box(0, 0, 500, 500), box(900, 400, 950, 450)], crs=UTM)
    areas = non_residential_areas(pois, settings.households)
    assert areas["kind"].tolist() == ["amenity=university"]
    rows = [
        {"building": "yes", "name": "第一教学楼", "geom": box(10, 10, 60, 60)},
        {"building": "yes", "name": None, "geom": box(100, 10, 150, 60)},
        {"building": "dormitory", "name": "学生宿舍 3", "geom": box(200, 10, 250, 60)},
        {"building": "yes", "name": "学生食堂", "geom": box(300, 10, 350, 60)},
        {"building": "yes", "name": "ＸＸ大学 科技 大楼", "geom": box(400, 10, 450, 60)},
        {"building": "yes", "name": "3号楼", "geom": box(600, 10, 650, 60)},
        {"building": "yes", "name": "教工家属楼", "geom": box(700, 10, 750, 60)},
        {"building": "apartments", "name": "Riverside Hotel", "geom": box(800, 10, 850, 60)},
    ]
    b = _buildings(rows).assign(name=[r["name"] for r in rows])
    out = estimate_households(b, settings.households, landuse=landuse, areas=areas)
    assert out["hh_rule"].tolist() == [
        NAME_NOT_HOME, GENERIC_NON_RESIDENTIAL_AREA, GROUP_QUARTERS, NAME_NOT_HOME,
        NAME_NOT_HOME, NAME_HOME, NAME_HOME, NAME_NOT_HOME]
    assert out["residential"].tolist() == [False, False, True, False, False, True, True,
                                           False]
    # "3号楼" is a home only inside residential landuse, not out in the open.
    alone = estimate_households(_buildings([rows[5]]).assign(name=["3号楼"]),
                                settings.households)
    assert alone["hh_rule"].iloc[0] != NAME_HOME


@pytest.mark.parametrize("folder", ["shanghai_shu_baoshan", "shenzhen_longgang"])
def test_no_home_on_the_chinese_extracts_is_named_as_something_else(folder, settings,
                                                                    capsys):
    from gis.cli import main
    from gis.data.households import _name_says, load_name_rules
    from gis.study import load_study
    from tests.conftest import SHARED_DATA

    files = sorted((SHARED_DATA / folder).glob("*.osm")) if SHARED_DATA.exists() else []
    if not files:
        pytest.skip(f"{SHARED_DATA / folder} is absent (the shared real extracts)")
    study = load_study(str(files[0]), settings, compounds=False)
    says_not, _home, _res, _group = _name_says(study.homes["name"], load_name_rules())
    assert not says_not.any(), study.homes.loc[says_not, "name"].tolist()
    # Campus buildings without a name are caught by their campus area.
    assert "generic in non-residential area" in set(study.buildings["hh_rule"])
    # The command prints the rules and the largest homes, for a planner to check.
    assert main(["households", "--source", str(files[0]), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "name: not a home" in out and "largest homes" in out


def test_dormitories_count_residents_and_enter_households_by_the_set_household_size(settings):
    from dataclasses import replace

    from gis.data.households import GROUP_QUARTERS, NAME_NOT_HOME

    rules = replace(settings.households, floor_area_per_resident_m2=10.0,
                    residents_per_household=2.5)
    rows = [  # 50 x 50 m, 4 floors: 10,000 m2 of floor space each
        {"building": "dormitory", "building:levels": "4", "geom": box(0, 0, 50, 50)},
        {"building": "yes", "building:levels": "4", "geom": box(100, 0, 150, 50)},
        {"building": "apartments", "building:levels": "4", "geom": box(200, 0, 250, 50)},
        {"building": "apartments", "building:levels": "4", "geom": box(300, 0, 350, 50)},
        {"building": "dormitory", "building:levels": "4", "households": 7,
         "geom": box(400, 0, 450, 50)},
    ]
    b = _buildings(rows).assign(name=[None, "职工宿舍", None, "学生公寓 2", None])
    out = estimate_households(b, rules)
    assert out["hh_rule"].tolist() == [GROUP_QUARTERS, GROUP_QUARTERS, RESIDENTIAL_TYPE,
                                       GROUP_QUARTERS, GIVEN]
    # 1,000 residents each, 400 households of 2.5 residents; flats at 90 m2 per household.
    assert out["residents"].tolist() == [1000, 1000, 0, 1000, 0]
    assert out["households"].tolist() == [400, 400, round(10_000 / 90), 400, 7]
    assert out["group_quarters"].tolist() == [True, True, False, True, False]
    # The report shows them apart, with their residents.
    rep = household_report(out).set_index("rule")
    assert rep.loc[GROUP_QUARTERS, "residents"] == 3000
    assert rep.loc[GROUP_QUARTERS, "households"] == 1200
    # A not-home name still wins over a dormitory word.
    canteen = estimate_households(_buildings(rows[:1]).assign(name=["宿舍区食堂"]), rules)
    assert canteen["hh_rule"].iloc[0] == NAME_NOT_HOME


def test_a_bad_residents_per_household_is_refused_by_name(tmp_path):
    from gis._errors import SettingsError
    from gis.settings import SETTINGS_PATH, load_settings

    text = SETTINGS_PATH.read_text(encoding="utf-8").replace(
        "residents_per_household = 2.62", "residents_per_household = 0")
    bad = tmp_path / "settings.toml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(SettingsError, match="residents_per_household"):
        load_settings(bad)
