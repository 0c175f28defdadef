"""Places a user can find by name and zoom to: streets, communities and grids.

Examples
--------
>>> index = place_index(study.streets, {"community": plan.communities_gdf()})  # doctest: +SKIP
>>> index.loc[index["name"] == "Mannerheimintie", ["kind", "west", "north"]]  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.settings import WGS84

COLUMNS = ["name", "kind", "west", "south", "east", "north"]


def place_index(streets: gpd.GeoDataFrame | None,
                zones: Mapping[str, gpd.GeoDataFrame] | None = None) -> pd.DataFrame:
    """Return one row per named place with its bounds in degrees.

    Parameters
    ----------
    streets
        Street lines with a ``name`` column (any CRS); the parts of a street that share a
        name become one place. None or without names: no streets.
    zones
        Polygons by kind (for example ``{"community": ..., "grid": ...}``) with a
        ``name`` column.

    Returns
    -------
    pandas.DataFrame
        Columns ``name``, ``kind`` ("street" or a key of ``zones``), ``west``, ``south``,
        ``east``, ``north``; zones first, then streets, each sorted by name.
    """
    parts = []
    for kind, gdf in (zones or {}).items():
        if gdf is not None and len(gdf) and "name" in gdf.columns:
            parts.append(_bounds(gdf[gdf["name"].notna()], kind))
    if streets is not None and len(streets) and "name" in streets.columns:
        named = streets[streets["name"].notna() & (streets["name"].astype(str).str.strip()
                                                   != "")]
        parts.append(_bounds(named, "street"))
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(columns=COLUMNS)
    return pd.concat(parts, ignore_index=True)[COLUMNS]


def _bounds(gdf: gpd.GeoDataFrame, kind: str) -> pd.DataFrame:
    if not len(gdf):
        return pd.DataFrame(columns=COLUMNS)
    b = gdf.to_crs(WGS84).bounds
    b["name"] = gdf["name"].astype(str).str.strip().to_numpy()
    out = b.groupby("name", sort=True).agg(west=("minx", "min"), south=("miny", "min"),
                                           east=("maxx", "max"), north=("maxy", "max"))
    out = out[np.isfinite(out.to_numpy()).all(axis=1)].reset_index()
    out["kind"] = kind
    return out
