"""Map clicks on the gaps map: add, move, close and delete stations of a scenario."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point

from gis._errors import InputError
from gis.analysis.coverage import (
    CoverageOptions,
    compute_coverage,
)
from gis.planning.scenario_edits import (
    PICK_RADIUS_M,
    added_rows,
    apply_click,
    as_changes,
    as_rows,
    map_points,
)
from gis.planning.scenarios import Change, WhatIf
from gis.settings import WGS84
from tests.conftest import UTM, access_of, points

CAT = "health"


@pytest.fixture
def street(straight_street, settings):
    homes = points([(100, 0), (1500, 0), (1900, 0)], households=[10, 20, 30])
    fac = points([(0, 0), (1000, 0)], category=[CAT, CAT], name=["a", "b"])
    return compute_coverage(access_of(straight_street, homes, settings), fac, settings,
                            CoverageOptions(categories=[CAT]))


def lonlat(x: float, y: float) -> tuple[float, float]:
    p = gpd.GeoSeries([Point(x, y)], crs=UTM).to_crs(WGS84).iloc[0]
    return p.x, p.y


def click(result, rows, moving, mode, x, y):
    return apply_click(rows, moving, mode, *lonlat(x, y), category=CAT,
                       facilities=result.facilities, access=result.access,
                       new_name="new")


def replay(result, settings, rows):
    what = WhatIf(result, CAT, settings)
    for ch in as_changes(rows, UTM, result.facilities.index):
        what.apply(ch)
    return what.households_covered


def test_add_move_close_and_delete_by_clicks(street, settings):
    # Before: 100 and 1000 m stations cover the home at 100 m and the one at 1500 m.
    assert replay(street, settings, []) == 30
    add = click(street, [], None, "add", 1700, 5)
    assert add.key == "click_added" and len(add.rows) == 1
    assert replay(street, settings, add.rows) == 60
    # Move the added station: the first click (within the pick radius) picks it ...
    picked = click(street, add.rows, None, "move", 1700 + PICK_RADIUS_M / 2, 0)
    assert picked.key == "click_move_picked" and picked.moving["kind"] == "added"
    assert picked.rows == add.rows
    # ... the second puts it at its new place; still one row, now at 300 m.
    moved = click(street, picked.rows, picked.moving, "move", 300, 0)
    assert moved.key == "click_moved" and moved.moving is None and len(moved.rows) == 1
    assert as_changes(moved.rows, UTM, street.facilities.index)[0].x == pytest.approx(300, abs=1)
    assert replay(street, settings, moved.rows) == 30
    # Close the existing facility at 1000 m: the home at 1500 m loses its station.
    closed = click(street, moved.rows, None, "close", 990, 0)
    assert closed.key == "click_closed" and closed.params["name"] == "b"
    assert closed.rows[-1]["facility"] == "1"
    assert replay(street, settings, closed.rows) == 10
    # A closed facility is not picked again.
    again = click(street, closed.rows, None, "close", 990, 0)
    assert again.key == "click_nothing_facility" and again.rows == closed.rows
    # Move the existing facility at 0 m to 1800 m: both far homes are covered, the near
    # one (100 m) is still reached from the added station at 300 m.
    pick = click(street, closed.rows, None, "move", 10, 0)
    assert pick.moving["kind"] == "facility" and pick.moving["facility"] == "0"
    moved_fac = click(street, pick.rows, pick.moving, "move", 1800, 0)
    assert moved_fac.rows[-1]["action"] == "move"
    assert replay(street, settings, moved_fac.rows) == 60
    added, gone = map_points(moved_fac.rows, CAT)
    assert len(added) == 2 and len(gone) == 2  # the station and the moved facility
    # Delete the added station: only it goes, the closure and the move stay.
    deleted = click(street, moved_fac.rows, None, "delete", 310, 0)
    assert deleted.key == "click_deleted"
    assert [r["action"] for r in deleted.rows] == ["remove", "move"]
    # The rows given are never changed in place.
    assert len(add.rows) == 1 and add.rows[0]["lon"] != moved.rows[0]["lon"]


def test_clicks_far_from_everything_change_nothing(street):
    far = click(street, [], None, "delete", 500, 0)
    assert far.key == "click_nothing_added" and far.rows == []
    nothing = click(street, [], None, "move", 500, 0)
    assert nothing.key == "click_nothing_to_move" and nothing.moving is None
    look = click(street, [], None, "look", 1000, 0)
    assert look.rows == [] and look.key == ""


def test_a_new_place_off_the_streets_is_refused_and_nothing_stored(street):
    with pytest.raises(InputError, match="from the walking"):
        click(street, [], None, "add", 500, 900)
    picked = click(street, [], None, "move", 0, 0)
    with pytest.raises(InputError, match="from the walking"):
        click(street, [], picked.moving, "move", 500, 900)


def test_rows_and_changes_round_trip_with_moves_and_closures(street):
    changes = [Change("add", CAT, x=1700.0, y=0.0, name="s"),
               Change("remove", CAT, facility=1, name="b"),
               Change("move", CAT, facility=0, x=1800.0, y=0.0, name="a"),
               Change("remove", CAT, facility=99, name="gone")]  # not in this area
    rows = as_rows(changes, street.facilities)
    assert [r["action"] for r in rows] == ["add", "remove", "move"]
    assert rows[2]["from_lon"] == pytest.approx(lonlat(0, 0)[0])
    back = as_changes(rows, UTM, street.facilities.index)
    assert back[1].facility == 1 and back[2].facility == 0  # ids keep their type
    assert (back[2].x, back[0].x) == (pytest.approx(1800, abs=0.01),
                                       pytest.approx(1700, abs=0.01))


def test_accepted_sites_become_rows_that_come_back_to_the_same_places():
    sites = gpd.GeoDataFrame(geometry=[Point(500_100.0, 6_700_200.0),
                                       Point(500_900.0, 6_700_050.0)], crs=UTM)
    rows = added_rows(sites, "health", ["site 1", "site 2"])
    assert [r["name"] for r in rows] == ["site 1", "site 2"]
    assert all(r["action"] == "add" and r["category"] == "health" for r in rows)
    assert (rows[0]["lon"], rows[0]["lat"]) == pytest.approx(lonlat(500_100.0, 6_700_200.0))
    back = as_changes(rows, UTM, pd.Index([]))
    assert [c.x for c in back] == pytest.approx([500_100.0, 500_900.0], abs=1e-3)
    assert [c.y for c in back] == pytest.approx([6_700_200.0, 6_700_050.0], abs=1e-3)
