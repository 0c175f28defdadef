"""Which community or grid each home belongs to: one rule for every analysis.

A home belongs to the zone that contains its centroid (the first one, should zones
overlap); homes outside every zone get ``""``. Zones in another CRS are projected to the
homes' CRS first, so a join never compares degrees with metres.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pyproj

from gis._errors import InputError
from gis.crs import require_projected

#: The zone name of results for the whole study area (layers.i18n.zone_label translates).
WHOLE_AREA = "(whole area)"


def zone_of_homes(homes: gpd.GeoDataFrame | gpd.GeoSeries, zones: gpd.GeoDataFrame, *,
                  name_col: str = "name") -> pd.Series:
    """Return the zone name of every home, indexed like ``homes`` (``""``: in none).

    Parameters
    ----------
    homes
        Buildings (polygons or points) in a projected CRS.
    zones
        Polygons with a ``name_col`` column, in any CRS (projected to the homes' CRS).
    name_col
        Column naming each zone.

    Returns
    -------
    pandas.Series
        Zone names (object dtype), indexed like ``homes``.

    Examples
    --------
    >>> zone_of_homes(result.homes, communities).value_counts()  # doctest: +SKIP
    """
    require_projected(("homes", homes))
    if name_col not in zones:
        msg = f"`zones` has no `{name_col}` column; name each zone there."
        raise InputError(msg)
    geoms = homes.geometry if isinstance(homes, gpd.GeoDataFrame) else homes
    cent = gpd.GeoDataFrame(geometry=geoms.centroid.to_numpy(), index=homes.index,
                            crs=homes.crs)
    named = zones[[name_col, zones.geometry.name]].rename(columns={name_col: "_zone"})
    if named.crs is not None and not pyproj.CRS(named.crs).equals(pyproj.CRS(homes.crs)):
        named = named.to_crs(homes.crs)
    joined = gpd.sjoin(cent, named, predicate="within", how="left")
    joined = joined[~joined.index.duplicated(keep="first")]
    zone = joined["_zone"].astype(object)
    return zone.where(zone.notna(), "").reindex(homes.index)
