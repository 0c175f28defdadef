"""Facilities of each service category: from OpenStreetMap tags or a user's layer.

A facility row carries ``category`` (a catalogue id), ``name``, ``franchise`` (a merchant
with a signed service agreement) and ``merchant`` (its category is a merchant category).
In OpenStreetMap data no merchant has signed anything, so ``franchise`` is False and the
merchants of merchant categories are candidate merchants. One place can serve several
categories; it then has one row per category.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis._errors import InputError
from gis.settings import WGS84, Category, Settings

FACILITY_COLUMNS = ["category", "name", "franchise", "merchant", "source", "osm_id"]


def match_category(pois: gpd.GeoDataFrame, category: Category) -> pd.Series:
    """Return the mask of features that match any OSM tag filter of ``category``.

    Parameters
    ----------
    pois
        OSM features with tag columns.
    category
        A catalogue category with its tag filters.

    Returns
    -------
    pandas.Series
        Boolean, indexed like ``pois``.
    """
    mask = pd.Series(False, index=pois.index)
    for flt in category.osm_filters:
        this = pd.Series(True, index=pois.index)
        for key, values in flt.items():
            if key not in pois:
                this &= False
                continue
            col = pois[key]
            this &= col.notna() if "*" in values else col.astype(str).isin(values)
        mask |= this
    return mask


def facilities_from_osm(pois: gpd.GeoDataFrame, settings: Settings) -> gpd.GeoDataFrame:
    """Classify OpenStreetMap points of interest into the catalogue's categories.

    Parameters
    ----------
    pois
        Points or polygons with OSM tag columns (``gis.data.sources.OsmData.pois``).
    settings
        The catalogue.

    Returns
    -------
    geopandas.GeoDataFrame
        Points (polygons by a point on their surface), one row per place and category,
        in the CRS of ``pois``, with :data:`FACILITY_COLUMNS`.
    """
    frames = []
    pts = shapely.point_on_surface(np.asarray(pois.geometry.values)) if len(pois) else []
    name = pois["name"] if "name" in pois else pd.Series(None, index=pois.index)
    if "name:zh" in pois:
        name = name.where(name.notna(), pois["name:zh"])
    for cat in settings.categories:
        m = match_category(pois, cat).to_numpy()
        if not m.any():
            continue
        frames.append(gpd.GeoDataFrame({
            "category": cat.id,
            "name": name.to_numpy()[m],
            "franchise": False,
            "merchant": cat.merchant,
            "source": "osm",
            "osm_id": pois["osm_id"].to_numpy()[m] if "osm_id" in pois else None,
        }, geometry=np.asarray(pts)[m], crs=pois.crs))
    if not frames:
        return empty_facilities(pois.crs or WGS84)
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=pois.crs)


def empty_facilities(crs: object) -> gpd.GeoDataFrame:
    """Return an empty facilities layer with the standard columns.

    Parameters
    ----------
    crs
        The layer's CRS.

    Returns
    -------
    geopandas.GeoDataFrame
        No rows; the columns of every facilities layer.
    """
    return gpd.GeoDataFrame({c: pd.Series(dtype=object) for c in FACILITY_COLUMNS},
                            geometry=gpd.GeoSeries([], crs=crs), crs=crs)


def normalise_categories(values: pd.Series, settings: Settings, *,
                         where: str) -> pd.Series:
    """Map category values (id, Chinese or English name, any case) to catalogue ids.

    Parameters
    ----------
    values
        Category values as written in a file.
    settings
        Settings with the catalogue.
    where
        The file, for the message.

    Returns
    -------
    pandas.Series
        Catalogue ids, indexed like ``values``.

    Raises
    ------
    InputError
        Listing every unknown value with its row count, and the known ids.
    """
    lookup: dict[str, str] = {}
    for cat in settings.categories:
        for label in (cat.id, cat.name_zh, cat.name_en):
            lookup[str(label).strip().lower()] = cat.id
    keys = values.astype(str).str.strip().str.lower()
    mapped = keys.map(lookup)
    unknown = values[mapped.isna()]
    if len(unknown):
        counts = unknown.astype(str).value_counts()
        listing = ", ".join(f"{v!r} ({n} rows)" for v, n in counts.head(10).items())
        known = ", ".join(f"{c.id} / {c.name_zh}" for c in settings.categories)
        msg = (f"{where}: {len(unknown)} facilities have an unknown category: {listing}. "
               f"Use one of: {known} (or add the category to data/settings.toml).")
        raise InputError(msg, key="unknown_categories", where=where, n=len(unknown),
                         listing=listing, known=known)
    return mapped
