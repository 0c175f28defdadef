"""Decide which buildings house people and how many households each holds.

The rule, in order (parameters in the ``[households]`` table of data/settings.toml):

1. ``given``: a ``households`` column in the user's layer wins where it holds a number.
2. Names (word lists in data/building_names.toml): a name that says the building is not a
   home (教学楼, 食堂, 医院, "XX学院大楼", classroom, ...) makes it not a home (``name: not
   a home``); otherwise a name that says it is (住宅, 公寓, 宿舍, 家属楼, "3号楼" inside
   residential landuse, ...) makes it a home (``name: home``).
3. A building tagged with a non-residential use (shop, amenity, office, ... on the building
   itself) is not a home (``non-residential tag``), and neither is a non-residential
   building type (retail, church, ...: ``non-residential type``).
4. ``residential type``: building=apartments, residential, house, ... is a home.
5. A generic building inside a non-residential area (a campus, hospital, school or
   government compound mapped as ``amenity=university|hospital|...``, ``office``,
   ``military`` or ``healthcare`` areas; list in ``non_residential_areas``) is not a home
   (``generic in non-residential area``), even inside residential landuse.
6. A generic building (building=yes) is a home when its centroid lies in residential
   landuse (``generic in residential landuse``), or, outside any non-residential landuse
   and with a footprint of at least ``min_generic_footprint_m2``, by default
   (``generic, no other use``). Smaller generic buildings are sheds or kiosks
   (``generic, too small``); those in commercial, industrial or similar landuse are not
   homes (``generic in non-residential landuse``).

Group quarters (dormitories, staff hostels: a building type in ``group_quarters_types`` or
a name holding a ``group_quarters`` word of data/building_names.toml) are homes counted by
residents, not by flats (rule ``group quarters``): footprint area x floors /
``floor_area_per_resident_m2`` residents, entering household totals as residents /
``residents_per_household`` (at least 1). They are flagged ``group_quarters`` and their
``residents`` are kept, so reports show them apart.

Households of any other home: footprint area x floors / ``floor_area_per_household_m2``,
rounded, at least 1. Floors: building:levels, else height / ``storey_height_m``, else
``default_levels``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.crs import require_projected
from gis.settings import DATA_DIR, HouseholdRules, read_toml

GIVEN = "given"
RESIDENTIAL_TYPE = "residential type"
GENERIC_RESIDENTIAL_LANDUSE = "generic in residential landuse"
GENERIC_DEFAULT = "generic, no other use"
NON_RESIDENTIAL_TAG = "non-residential tag"
NON_RESIDENTIAL_TYPE = "non-residential type"
GENERIC_NON_RESIDENTIAL_LANDUSE = "generic in non-residential landuse"
GENERIC_SMALL = "generic, too small"
NAME_NOT_HOME = "name: not a home"
NAME_HOME = "name: home"
GENERIC_NON_RESIDENTIAL_AREA = "generic in non-residential area"
GROUP_QUARTERS = "group quarters"

#: Plausibility checks (column ``hh_check``): what was wrong and what was done instead.
CHECK_LEVELS = "floors above the maximum (default floors used)"
CHECK_GIVEN = "households figure above the maximum or negative (estimated instead)"
CHECK_CAPPED = "estimate above the maximum households per building (capped)"
CHECKS = (CHECK_LEVELS, CHECK_GIVEN, CHECK_CAPPED)

HOME_RULES = (GIVEN, NAME_HOME, GROUP_QUARTERS, RESIDENTIAL_TYPE,
              GENERIC_RESIDENTIAL_LANDUSE, GENERIC_DEFAULT)
NAMES_PATH = DATA_DIR / "building_names.toml"


@dataclass(frozen=True)
class NameRules:
    """Words in building names that say whether people live there (normalised)."""

    not_home: tuple[str, ...]
    not_home_patterns: tuple[str, ...]
    home: tuple[str, ...]
    home_in_residential: tuple[str, ...]
    group_quarters: tuple[str, ...] = ()


def normalise_name(text: object) -> str:
    """Return a name folded for matching: full-width to half-width, lower case, no spaces.

    Parameters
    ----------
    text
        A name (any type; None and NaN give ``""``).

    Returns
    -------
    str
        The folded name.
    """
    if not isinstance(text, str):
        return ""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).lower()


def load_name_rules(path: str | Path | None = None) -> NameRules:
    """Read the building-name word lists (default data/building_names.toml).

    Parameters
    ----------
    path
        A TOML file (None: data/building_names.toml).

    Returns
    -------
    NameRules
        The word lists and patterns.
    """
    from gis._errors import SettingsError

    path = Path(path) if path is not None else NAMES_PATH
    what = "the building-name word lists"
    fix = "fix the file or restore it from the project"
    raw = read_toml(path, what, fix=fix)
    try:
        lists = {k: tuple(normalise_name(w) for w in raw.get(k, []) if isinstance(w, str))
                 for k in ("not_home", "home", "home_in_residential", "group_quarters")}
        patterns = tuple(str(p) for p in raw.get("not_home_patterns", []))
        for p in patterns:
            re.compile(p)
    except re.error as err:
        msg = f"{path.name}: {what} hold a pattern that is not a regular expression ({err}); {fix}."
        raise SettingsError(msg, where=path.name) from err
    return NameRules(lists["not_home"], patterns, lists["home"], lists["home_in_residential"],
                     lists["group_quarters"])


def _name_says(names: pd.Series, rules: NameRules) -> tuple[np.ndarray, np.ndarray,
                                                             np.ndarray, np.ndarray]:
    """Return masks: name says not a home, a home, a home inside compounds, group quarters."""
    folded = names.map(normalise_name)

    def matches(pattern: str) -> np.ndarray:
        compiled = re.compile(pattern)
        return np.array([bool(compiled.search(v)) for v in folded], dtype=bool)

    def has_any(words: tuple[str, ...]) -> np.ndarray:
        words = tuple(w for w in words if w)
        if not words:
            return np.zeros(len(folded), dtype=bool)
        return matches("|".join(re.escape(w) for w in words))

    not_home = has_any(rules.not_home)
    for p in rules.not_home_patterns:
        not_home = not_home | matches(p)
    return (not_home, has_any(rules.home), has_any(rules.home_in_residential),
            has_any(rules.group_quarters))


def non_residential_areas(features: gpd.GeoDataFrame, rules: HouseholdRules
                          ) -> gpd.GeoDataFrame:
    """Return the polygons of ``features`` that mark non-residential areas, with ``kind``.

    ``features`` are OSM features with tag columns (e.g. the POIs of a study area); an area
    matches when one of its tags is listed in ``rules.non_residential_areas``.

    Parameters
    ----------
    features
        OSM features with tag columns.
    rules
        The household rules.

    Returns
    -------
    geopandas.GeoDataFrame
        The matching polygons, with ``kind`` (the tag that matched).
    """
    polys = features[features.geom_type.isin(["Polygon", "MultiPolygon"])] if len(
        features) else features
    kind = pd.Series(None, index=polys.index, dtype=object)
    for key, values in rules.non_residential_areas:
        if key not in polys:
            continue
        col = polys[key].astype(object)
        hit = col.notna() & ~col.astype(str).isin(["no", "", "None", "nan"])
        if "*" not in values:
            hit &= col.astype(str).isin(values)
        kind = kind.where(kind.notna() | ~hit, key + "=" + col.astype(str))
    out = polys[kind.notna().to_numpy()]
    return gpd.GeoDataFrame({"kind": kind[kind.notna()].to_numpy()},
                            geometry=out.geometry.to_numpy(), crs=features.crs)


def _number(value: object) -> float:
    """Parse the leading number of an OSM value such as ``"5"``, ``"12 m"`` or ``"3;4"``."""
    if value is None:
        return np.nan
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    m = re.match(r"\s*(\d+(?:[.,]\d+)?(?:[eE][+-]?\d+)?)", str(value))
    return float(m.group(1).replace(",", ".")) if m else np.nan


def estimate_households(buildings: gpd.GeoDataFrame, rules: HouseholdRules, *,
                        landuse: gpd.GeoDataFrame | None = None,
                        areas: gpd.GeoDataFrame | None = None,
                        names: NameRules | None = None,
                        households_col: str | None = "households") -> gpd.GeoDataFrame:
    """Classify buildings as homes and count their households.

    Parameters
    ----------
    buildings
        Building polygons (or points, with a given households column) in a metric CRS,
        with OSM tag columns where known (``building``, ``building:levels``, ``height``,
        and the non-residential tags of ``rules``).
    rules
        The household rules of the settings.
    landuse
        Landuse polygons with a ``landuse`` column, in the same CRS.
    areas
        Non-residential areas (campuses, hospitals, ...; see
        :func:`non_residential_areas`), in the same CRS.
    names
        Building-name word lists (default: data/building_names.toml).
    households_col
        Column holding given household counts, if present.

    Returns
    -------
    geopandas.GeoDataFrame
        A copy indexed like ``buildings`` with ``residential`` (bool), ``households``
        (int, 0 for non-homes), ``levels`` (float), ``hh_rule`` (str, see the module
        docstring), ``group_quarters`` (bool), ``residents`` (int, the estimated
        residents of group quarters, 0 elsewhere) and ``hh_source`` (``given`` or
        ``estimated from floors`` for homes, None otherwise; see
        :mod:`gis.data.household_sources`).
    """
    layers = [("buildings", buildings)]
    if landuse is not None and len(landuse):
        layers.append(("landuse", landuse))
    require_projected(*layers)
    out = buildings.copy()
    n = len(out)
    btype = (out["building"].astype(object).where(out["building"].notna(), "yes")
             .astype(str).str.lower() if "building" in out else pd.Series("yes", out.index))
    tagged_other = pd.Series(False, index=out.index)
    for tag in rules.non_residential_tags:
        if tag in out:
            col = out[tag]
            tagged_other |= col.notna() & ~col.astype(str).isin(["no", "", "None", "nan"])
    is_res_type = btype.isin(rules.residential_types)
    is_generic = btype.isin(rules.generic_types)
    area = out.geometry.area.to_numpy()

    lu = pd.Series(None, index=out.index, dtype=object)
    if landuse is not None and len(landuse):
        cent = gpd.GeoDataFrame(geometry=out.geometry.centroid, crs=out.crs)
        joined = gpd.sjoin(cent, landuse[["landuse", "geometry"]], predicate="within",
                           how="left")
        # A centroid in residential landuse counts as residential even when another
        # landuse polygon overlaps it.
        joined["_res"] = joined["landuse"].isin(rules.residential_landuse)
        joined["_non"] = joined["landuse"].isin(rules.non_residential_landuse)
        flags = joined.groupby(level=0)[["_res", "_non"]].any()
        label = np.full(len(flags), None, dtype=object)
        label[flags["_non"].to_numpy(dtype=bool)] = "non"
        label[flags["_res"].to_numpy(dtype=bool)] = "res"  # residential wins
        lu = pd.Series(label, index=flags.index).reindex(out.index)

    rule = np.full(n, NON_RESIDENTIAL_TYPE, dtype=object)
    rule[is_generic & (lu == "res").to_numpy()] = GENERIC_RESIDENTIAL_LANDUSE
    rule[is_generic & (lu == "non").to_numpy()] = GENERIC_NON_RESIDENTIAL_LANDUSE
    generic_free = is_generic & lu.isna().to_numpy()
    rule[generic_free & (area >= rules.min_generic_footprint_m2)] = GENERIC_DEFAULT
    rule[generic_free & (area < rules.min_generic_footprint_m2)] = GENERIC_SMALL
    if areas is not None and len(areas):
        cent = gpd.GeoDataFrame(geometry=out.geometry.centroid.to_numpy(), crs=out.crs)
        inside = gpd.sjoin(cent, areas[[areas.geometry.name]], predicate="within",
                           how="inner")
        in_area = np.zeros(n, dtype=bool)
        in_area[np.unique(inside.index.to_numpy())] = True
        rule[is_generic & in_area] = GENERIC_NON_RESIDENTIAL_AREA
    rule[is_res_type.to_numpy()] = RESIDENTIAL_TYPE
    rule[tagged_other.to_numpy()] = NON_RESIDENTIAL_TAG
    group = btype.isin(rules.group_quarters_types).to_numpy()
    if "name" in out:
        names = names if names is not None else load_name_rules()
        say_not, say_home, say_home_res, say_group = _name_says(out["name"], names)
        rule[say_home | (say_home_res & (lu == "res").to_numpy())] = NAME_HOME
        group = (group | say_group) & ~say_not
        rule[say_not] = NAME_NOT_HOME
    rule[group] = GROUP_QUARTERS

    check = np.full(n, None, dtype=object)
    levels = (out["building:levels"].map(_number) if "building:levels" in out
              else pd.Series(np.nan, out.index)).to_numpy(dtype=float)
    height = (out["height"].map(_number) if "height" in out
              else pd.Series(np.nan, out.index)).to_numpy(dtype=float)
    # An impossible figure is an error in the data: checked before any product or cast.
    with np.errstate(invalid="ignore"):
        high = ~(levels <= rules.max_levels) & ~np.isnan(levels)
        high_h = ~(height <= rules.max_levels * rules.storey_height_m) & ~np.isnan(height)
    check[high | high_h] = CHECK_LEVELS
    levels = np.where(high, np.nan, levels)
    height = np.where(high_h, np.nan, height)
    levels = np.where(np.isnan(levels), np.floor(height / rules.storey_height_m), levels)
    levels = np.where(np.isnan(levels) | (levels < 1), rules.default_levels, levels)
    estimate = np.maximum(1, np.round(area * levels / rules.floor_area_per_household_m2))
    residents = np.where(group, np.maximum(1, np.round(
        area * levels / rules.floor_area_per_resident_m2)), 0.0)
    estimate = np.where(group, np.maximum(1, np.round(
        residents / rules.residents_per_household)), estimate)

    home = np.isin(rule, HOME_RULES)
    capped = home & (estimate > rules.max_households_per_building)
    check[capped] = CHECK_CAPPED
    estimate = np.minimum(estimate, rules.max_households_per_building)
    hh = np.where(home, estimate, 0.0)
    if households_col and households_col in out:
        given = pd.to_numeric(out[households_col], errors="coerce").to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            most = rules.max_households_per_building
            wrong = ~np.isnan(given) & ~((given >= 0) & (given <= most))
        check[wrong] = CHECK_GIVEN
        given = np.where(wrong, np.nan, given)
        has = ~np.isnan(given) & (given >= 0)
        hh = np.where(has, given, hh)
        rule[has] = GIVEN
        home = home | has
        residents = np.where(has, 0.0, residents)
    group_quarters = rule == GROUP_QUARTERS
    source = np.full(len(home), None, dtype=object)
    source[home] = "estimated from floors"
    source[rule == GIVEN] = "given"
    out["residential"] = home & (hh > 0)
    out["households"] = np.round(hh).astype(np.int64)
    out["levels"] = levels
    out["hh_rule"] = rule
    out["group_quarters"] = group_quarters
    out["residents"] = np.where(group_quarters, residents, 0.0).astype(np.int64)
    out["hh_source"] = source
    out["hh_check"] = check
    return out


def household_report(homes: gpd.GeoDataFrame) -> pd.DataFrame:
    """Return buildings and households counted by each rule, homes first.

    Parameters
    ----------
    homes
        The output of :func:`estimate_households`.

    Returns
    -------
    pandas.DataFrame
        Columns ``rule``, ``buildings``, ``households``, ``residents`` (group quarters
        only), ``residential``.
    """
    data = homes if "residents" in homes else homes.assign(residents=0)
    rep = (data.groupby("hh_rule")
           .agg(buildings=("households", "size"), households=("households", "sum"),
                residents=("residents", "sum"), residential=("residential", "any"))
           .reset_index().rename(columns={"hh_rule": "rule"}))
    return rep.sort_values(["residential", "households"], ascending=False,
                           ignore_index=True)
