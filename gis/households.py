"""Decide which buildings house people and how many households each holds.

The rule, in order (parameters in the ``[households]`` table of data/settings.toml):

1. ``given``: a ``households`` column in the user's layer wins where it holds a number.
2. A building tagged with a non-residential use (shop, amenity, office, ... on the building
   itself) is not a home (``non-residential tag``), and neither is a non-residential
   building type (retail, church, ...: ``non-residential type``).
3. ``residential type``: building=apartments, residential, house, ... is a home.
4. A generic building (building=yes) is a home when its centroid lies in residential
   landuse (``generic in residential landuse``), or, outside any non-residential landuse
   and with a footprint of at least ``min_generic_footprint_m2``, by default
   (``generic, no other use``). Smaller generic buildings are sheds or kiosks
   (``generic, too small``); those in commercial, industrial or similar landuse are not
   homes (``generic in non-residential landuse``).

Households of a home: footprint area x floors / ``floor_area_per_household_m2``, rounded,
at least 1. Floors: building:levels, else height / ``storey_height_m``, else
``default_levels``.
"""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.crs import require_projected
from gis.settings import HouseholdRules

GIVEN = "given"
RESIDENTIAL_TYPE = "residential type"
GENERIC_RESIDENTIAL_LANDUSE = "generic in residential landuse"
GENERIC_DEFAULT = "generic, no other use"
NON_RESIDENTIAL_TAG = "non-residential tag"
NON_RESIDENTIAL_TYPE = "non-residential type"
GENERIC_NON_RESIDENTIAL_LANDUSE = "generic in non-residential landuse"
GENERIC_SMALL = "generic, too small"

HOME_RULES = (GIVEN, RESIDENTIAL_TYPE, GENERIC_RESIDENTIAL_LANDUSE, GENERIC_DEFAULT)


def _number(value: object) -> float:
    """Parse the leading number of an OSM value such as ``"5"``, ``"12 m"`` or ``"3;4"``."""
    if value is None:
        return np.nan
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    m = re.match(r"\s*(\d+(?:[.,]\d+)?)", str(value))
    return float(m.group(1).replace(",", ".")) if m else np.nan


def estimate_households(buildings: gpd.GeoDataFrame, rules: HouseholdRules, *,
                        landuse: gpd.GeoDataFrame | None = None,
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
    households_col
        Column holding given household counts, if present.

    Returns
    -------
    geopandas.GeoDataFrame
        A copy indexed like ``buildings`` with ``residential`` (bool), ``households``
        (int, 0 for non-homes), ``levels`` (float) and ``hh_rule`` (str, see the module
        docstring).
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
        lu = pd.Series(np.where(flags["_res"], "res", np.where(flags["_non"], "non", None)),
                       index=flags.index).reindex(out.index)

    rule = np.full(n, NON_RESIDENTIAL_TYPE, dtype=object)
    rule[is_generic & (lu == "res").to_numpy()] = GENERIC_RESIDENTIAL_LANDUSE
    rule[is_generic & (lu == "non").to_numpy()] = GENERIC_NON_RESIDENTIAL_LANDUSE
    generic_free = is_generic & lu.isna().to_numpy()
    rule[generic_free & (area >= rules.min_generic_footprint_m2)] = GENERIC_DEFAULT
    rule[generic_free & (area < rules.min_generic_footprint_m2)] = GENERIC_SMALL
    rule[is_res_type.to_numpy()] = RESIDENTIAL_TYPE
    rule[tagged_other.to_numpy()] = NON_RESIDENTIAL_TAG

    levels = (out["building:levels"].map(_number) if "building:levels" in out
              else pd.Series(np.nan, out.index)).to_numpy(dtype=float)
    height = (out["height"].map(_number) if "height" in out
              else pd.Series(np.nan, out.index)).to_numpy(dtype=float)
    levels = np.where(np.isnan(levels), np.floor(height / rules.storey_height_m), levels)
    levels = np.where(np.isnan(levels) | (levels < 1), rules.default_levels, levels)
    estimate = np.maximum(1, np.round(area * levels / rules.floor_area_per_household_m2))

    home = np.isin(rule, HOME_RULES)
    hh = np.where(home, estimate, 0.0)
    if households_col and households_col in out:
        given = pd.to_numeric(out[households_col], errors="coerce").to_numpy(dtype=float)
        has = ~np.isnan(given) & (given >= 0)
        hh = np.where(has, given, hh)
        rule[has] = GIVEN
        home = home | has
    out["residential"] = home & (hh > 0)
    out["households"] = np.round(hh).astype(np.int64)
    out["levels"] = levels
    out["hh_rule"] = rule
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
        Columns ``rule``, ``buildings``, ``households``, ``residential``.
    """
    rep = (homes.groupby("hh_rule")
           .agg(buildings=("households", "size"), households=("households", "sum"),
                residential=("residential", "any"))
           .reset_index().rename(columns={"hh_rule": "rule"}))
    return rep.sort_values(["residential", "households"], ascending=False,
                           ignore_index=True)
