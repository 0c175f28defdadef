"""What-if changes equal a full recomputation; scenarios survive save and reopen."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from gis._errors import InputError
from gis.analysis.coverage import (
    CoverageOptions,
    compute_coverage,
)
from gis.data.write import write_gpkg_atomic
from gis.planning.scenarios import (
    Change,
    Scenario,
    WhatIf,
    apply_scenario,
    compare_scenarios,
    load_scenarios,
    save_scenarios,
)
from gis.study import load_study
from tests.conftest import access_of, points

CAT = "health"


@pytest.fixture(scope="module")
def helsinki(settings):
    study = load_study(None, settings)
    result = compute_coverage(study.access(), study.facilities, settings,
                              CoverageOptions(categories=[CAT, "daily_retail"]))
    return study, result


def _full(study, result, settings, scenario):
    fac = apply_scenario(result.facilities, scenario)
    res = compute_coverage(result.access, fac, settings,
                           CoverageOptions(thresholds=result.thresholds))
    return res.homes.loc[res.homes["attached"], f"covered_{CAT}"].to_numpy()


def test_adding_a_station_in_a_gap_gains_households_and_loses_none(straight_street, settings):
    homes = points([(100, 0), (1500, 0), (1900, 0)], households=[10, 20, 30])
    fac = points([(0, 0)], category=[CAT], name=["a"])
    res = compute_coverage(access_of(straight_street, homes, settings), fac, settings,
                           CoverageOptions(categories=[CAT]))
    what = WhatIf(res, CAT, settings)
    delta = what.add(1700, 0)
    assert (delta.households_gained, delta.households_lost) == (50, 0)
    delta = what.remove(0)
    assert (delta.households_gained, delta.households_lost) == (0, 10)
    with pytest.raises(InputError, match="already removed"):
        what.remove(0)
    with pytest.raises(InputError, match="from the walking"):
        what.add(500, 900)


def test_move_reports_the_combined_change(straight_street, settings):
    homes = points([(100, 0), (1500, 0)], households=[10, 20])
    fac = points([(0, 0)], category=[CAT], name=["a"])
    res = compute_coverage(access_of(straight_street, homes, settings), fac, settings,
                           CoverageOptions(categories=[CAT]))
    delta = WhatIf(res, CAT, settings).move(0, 1400, 0)
    assert (delta.households_gained, delta.households_lost) == (20, 10)


@st.composite
def change_lists(draw, n_fac, bounds):
    minx, miny, maxx, maxy = bounds
    changes = []
    removed: set[int] = set()
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["add", "remove", "move"]))
        x = draw(st.floats(minx, maxx))
        y = draw(st.floats(miny, maxy))
        if kind == "add":
            changes.append(("add", None, x, y))
        else:
            left = [i for i in range(n_fac) if i not in removed]
            if not left:
                continue
            f = draw(st.sampled_from(left))
            removed.add(f)
            changes.append((kind, f, x, y))
    return changes


@hyp_settings(max_examples=25, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                     HealthCheck.too_slow])
@given(data=st.data())
def test_incremental_what_if_equals_full_recompute(helsinki, settings, data):
    study, result = helsinki
    fac = result.facilities[result.facilities["category"] == CAT]
    bounds = result.homes.total_bounds
    changes = data.draw(change_lists(len(fac), bounds))
    what = WhatIf(result, CAT, settings)
    scenario = Scenario("random")
    for kind, f, x, y in changes:
        label = fac.index[f] if f is not None else None
        change = Change(kind, CAT, facility=label, x=x, y=y)
        try:
            what.apply(change)
        except InputError:  # a point far from any street: refused, nothing changed
            continue
        scenario = scenario.with_change(change)
    np.testing.assert_array_equal(what.covered, _full(study, result, settings, scenario))


def test_scenarios_round_trip_through_the_project_file(tmp_path, helsinki, settings):
    study, result = helsinki
    fac = result.facilities[result.facilities["category"] == CAT]
    x, y = result.homes.geometry.centroid.iloc[0].coords[0]
    a = Scenario("方案一", (Change("add", CAT, x=x, y=y, name="新站"),
                          Change("remove", CAT, facility=fac.index[0])))
    b = Scenario("plan B", (Change("move", CAT, facility=fac.index[1], x=x + 50, y=y),))
    path = tmp_path / "project.gpkg"
    write_gpkg_atomic(path, {"facilities": fac})
    save_scenarios(path, [a, b], crs=result.homes.crs)
    back = load_scenarios(path, crs=result.homes.crs, facility_index=fac.index)
    assert [s.name for s in back] == ["方案一", "plan B"]
    assert back[0].changes[0].name == "新站"
    assert back[0].changes[0].x == pytest.approx(x, abs=1e-3)
    assert back[0].changes[1].facility == fac.index[0]
    assert back[1].changes[0].action == "move"
    # Other layers of the project file are kept.
    import pyogrio
    assert {n for n, _ in pyogrio.list_layers(path)} == {"facilities", "scenario_changes"}


def test_compare_scenarios_shows_the_difference(helsinki, settings):
    study, result = helsinki
    fac = result.facilities[result.facilities["category"] == CAT]
    a = Scenario("base")
    b = Scenario("none", tuple(Change("remove", CAT, facility=i) for i in fac.index))
    table = compare_scenarios(result, settings, a, b).set_index("category")
    assert table.loc[CAT, "households_a"] > 0
    assert table.loc[CAT, "difference"] == -table.loc[CAT, "households_a"]
    assert table.loc["daily_retail", "difference"] == 0


def test_corrupt_project_file_gives_a_clear_message(tmp_path):
    bad = tmp_path / "project.gpkg"
    bad.write_bytes(b"not a geopackage at all")
    with pytest.raises(InputError, match="project.gpkg: cannot be opened"):
        load_scenarios(bad, crs="EPSG:32635")


def test_scenarios_belong_to_their_study_area_and_can_be_renamed_and_deleted(tmp_path):
    from gis.planning.scenarios import delete_scenario, rename_scenario

    path = tmp_path / "project.gpkg"
    crs = "EPSG:32635"
    one = Scenario("two stations", (Change("add", "health", x=385000.0, y=6672000.0),))
    other = Scenario("two stations", (Change("add", "elderly", x=385100.0, y=6672100.0),))
    save_scenarios(path, [one], crs=crs, study="helsinki.osm.pbf")
    save_scenarios(path, [other], crs=crs, study="map_1.osm")

    def shown(study):
        return [(s.name, [(c.category, round(c.x), round(c.y)) for c in s.changes])
                for s in load_scenarios(path, crs=crs, study=study)]

    # A Helsinki scenario does not appear under a Shanghai study area, and the same name
    # in two areas is two scenarios.
    assert shown("helsinki.osm.pbf") == [("two stations", [("health", 385000, 6672000)])]
    assert shown("map_1.osm") == [("two stations", [("elderly", 385100, 6672100)])]
    rename_scenario(path, "two stations", "plan B", study="map_1.osm")
    assert [name for name, _ in shown("map_1.osm")] == ["plan B"]
    assert [name for name, _ in shown("helsinki.osm.pbf")] == ["two stations"]
    save_scenarios(path, [one], crs=crs, study="map_1.osm")
    with pytest.raises(InputError, match="exists already"):
        rename_scenario(path, "two stations", "plan B", study="map_1.osm")
    delete_scenario(path, "two stations", study="helsinki.osm.pbf")
    assert shown("helsinki.osm.pbf") == []
    assert sorted(name for name, _ in shown("map_1.osm")) == ["plan B", "two stations"]


def test_the_gaps_left_after_a_scenario_follow_its_stations(straight_street, settings):
    from gis.analysis.gaps import find_gaps
    from gis.planning.scenarios import result_after

    homes = points([(100, 0), (1500, 0), (1900, 0)], households=[10, 20, 30])
    fac = points([(0, 0)], category=[CAT], name=["a"])
    result = compute_coverage(access_of(straight_street, homes, settings), fac, settings,
                              CoverageOptions(categories=[CAT]))
    before = find_gaps(result, "health", settings)
    assert before.households_uncovered == 50
    # A station where the uncovered homes are: the gaps after it are gone or smaller.
    x, y = 1700.0, 0.0
    what = WhatIf(result, "health", settings)
    what.add(x, y)
    scenario = Scenario("one", (Change("add", "health", x=x, y=y),))
    after = find_gaps(result_after(result, what, scenario), "health", settings)
    assert after.households_uncovered < before.households_uncovered
    assert after.households_uncovered == int(
        result.homes["households"].sum()) - what.households_covered
    # The base result is untouched.
    assert find_gaps(result, "health", settings).households_uncovered == (
        before.households_uncovered)


def test_gaps_after_a_change_keep_the_polygons_of_the_gaps_it_did_not_touch(settings):
    # A click in the app recomputed every gap's polygon (Malta: 2,000 unions a click);
    # a gap of the same homes now keeps the polygon found before, the rest is drawn.
    from gis.analysis.gaps import find_gaps
    from gis.planning.scenarios import result_after
    from gis.study import load_study

    study = load_study(None, settings)
    result = compute_coverage(study.access(), study.facilities, settings)
    before = find_gaps(result, "health", settings)
    assert len(before.areas) >= 3
    target = before.areas.iloc[0].geometry.representative_point()
    what = WhatIf(result, "health", settings)
    what.add(target.x, target.y)
    scenario = Scenario("one", (Change("add", "health", x=target.x, y=target.y),))
    after_result = result_after(result, what, scenario)
    plain = find_gaps(after_result, "health", settings)
    reused = find_gaps(after_result, "health", settings, reuse=before)
    columns = ["gap_id", "homes", "households", "nearest_facility", "nearest_dist_m"]
    pd.testing.assert_frame_equal(plain.areas[columns], reused.areas[columns])
    assert all(a.equals(b) for a, b in zip(plain.areas.geometry, reused.areas.geometry,
                                           strict=True))
    old = {id(g) for g in before.areas.geometry}
    kept = sum(id(g) in old for g in reused.areas.geometry)
    assert 0 < kept < len(before.areas)  # the untouched gaps: the same objects
    assert not any(id(g) in old for g in plain.areas.geometry)
    # Another band: nothing is reused.
    wider = find_gaps(after_result, "health", settings, buffer_m=before.buffer_m + 10,
                      reuse=before)
    assert not any(id(g) in old for g in wider.areas.geometry)
