"""Projections, the study area's local metric CRS, and GCJ-02 / BD-09 / WGS-84 conversion.

Chinese web maps publish shifted coordinates: Amap and Tencent use GCJ-02 (WGS-84 plus an
obfuscating offset of a few hundred metres), Baidu uses BD-09 (GCJ-02 rotated and shifted
again). A layer that declares one of them is converted to WGS-84 on load; the forward
formulas are the published GCJ-02 algorithm, the inverse is solved by fixed-point
iteration to well under a centimetre.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import geopandas as gpd
import numpy as np
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

from gis._errors import CRSMismatchError, InputError
from gis.settings import WGS84

log = logging.getLogger(__name__)

ShiftedCRS = Literal["gcj02", "bd09"]

# Krasovsky 1940 ellipsoid, as used by the GCJ-02 algorithm.
_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = np.pi * 3000.0 / 180.0


@dataclass(frozen=True)
class StudyArea:
    """A study area: its boundary in WGS-84 and the metric CRS all measuring uses."""

    boundary: BaseGeometry
    local_crs: pyproj.CRS
    name: str = ""


def choose_local_crs(area: gpd.GeoDataFrame | gpd.GeoSeries) -> pyproj.CRS:
    """Return the UTM CRS of the area's centre, the metric CRS of the study area.

    Parameters
    ----------
    area
        Any layer of the study area with a geographic or projected CRS.

    Returns
    -------
    pyproj.CRS
        The UTM zone CRS (WGS-84 datum) covering the area's centre.
    """
    if area.crs is None:
        msg = "`area` has no CRS; set one (e.g. EPSG:4326) before choosing a local CRS."
        raise CRSMismatchError(msg)
    crs: pyproj.CRS = area.estimate_utm_crs()
    log.info("local CRS chosen: %s", crs.to_string())
    return crs


def to_local(gdf: gpd.GeoDataFrame, local_crs: pyproj.CRS) -> gpd.GeoDataFrame:
    """Project ``gdf`` to the study area's metric CRS.

    Parameters
    ----------
    gdf
        A layer with a CRS.
    local_crs
        The study area's metric CRS.

    Returns
    -------
    geopandas.GeoDataFrame
        The layer in ``local_crs``.
    """
    if gdf.crs is None:
        msg = "Layer has no CRS; declare one (EPSG code) before projecting it."
        raise CRSMismatchError(msg)
    return gdf.to_crs(local_crs)


def to_wgs84(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return ``gdf`` in WGS-84 (EPSG:4326), the CRS of every file and map layer.

    Parameters
    ----------
    gdf
        A layer with a CRS.

    Returns
    -------
    geopandas.GeoDataFrame
        The layer in EPSG:4326.
    """
    if gdf.crs is None:
        msg = "Layer has no CRS; it cannot be converted to WGS-84."
        raise CRSMismatchError(msg)
    return gdf.to_crs(WGS84)


def require_projected(*layers: tuple[str, gpd.GeoDataFrame | gpd.GeoSeries]) -> pyproj.CRS:
    """Check that every named layer is in one projected (metric) CRS and return it.

    Parameters
    ----------
    layers
        Pairs of (argument name, layer).

    Returns
    -------
    pyproj.CRS
        The one projected CRS every layer is in.

    Raises
    ------
    CRSMismatchError
        Naming every layer that is unprojected or in another CRS, and the fix.
    """
    problems = []
    first_name, first = layers[0]
    crs = first.crs
    for name, layer in layers:
        if layer.crs is None:
            problems.append(f"`{name}` has no CRS")
        elif not pyproj.CRS(layer.crs).is_projected:
            problems.append(f"`{name}` is in geographic {layer.crs.to_string()}, not metres")
        elif crs is not None and not pyproj.CRS(layer.crs).equals(crs):
            problems.append(f"`{name}` is in {layer.crs.to_string()} but `{first_name}` is "
                            f"in {pyproj.CRS(crs).to_string()}")
    if problems:
        msg = ("; ".join(problems)
               + "; project every layer with gis.crs.to_local(layer, area.local_crs) first.")
        raise CRSMismatchError(msg)
    return pyproj.CRS(crs)


def _out_of_china(lng: np.ndarray, lat: np.ndarray) -> np.ndarray:
    return ~((lng >= 72.004) & (lng <= 137.8347) & (lat >= 0.8293) & (lat <= 55.8271))


def _delta(lng: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the GCJ-02 offset (dlng, dlat) in degrees at WGS-84 (lng, lat)."""
    x = lng - 105.0
    y = lat - 35.0
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y
            + 0.2 * np.sqrt(np.abs(x)) + common
            + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
            + (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0)
    dlng = (300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y
            + 0.1 * np.sqrt(np.abs(x)) + common
            + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
            + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0)
    radlat = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrtmagic) * np.pi)
    dlng = (dlng * 180.0) / (_A / sqrtmagic * np.cos(radlat) * np.pi)
    outside = _out_of_china(lng, lat)
    return np.where(outside, 0.0, dlng), np.where(outside, 0.0, dlat)


def wgs84_to_gcj02(lng: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Convert WGS-84 longitudes and latitudes (degrees) to GCJ-02.

    Parameters
    ----------
    lng, lat
        WGS-84 longitudes and latitudes in degrees (arrays of one shape).

    Returns
    -------
    tuple of numpy.ndarray
        GCJ-02 longitudes and latitudes.
    """
    lng, lat = np.asarray(lng, float), np.asarray(lat, float)
    dlng, dlat = _delta(lng, lat)
    return lng + dlng, lat + dlat


def gcj02_to_wgs84(lng: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Convert GCJ-02 to WGS-84 by fixed-point iteration (error well under 1 cm).

    Parameters
    ----------
    lng, lat
        GCJ-02 longitudes and latitudes in degrees (arrays of one shape).

    Returns
    -------
    tuple of numpy.ndarray
        WGS-84 longitudes and latitudes.
    """
    glng, glat = np.asarray(lng, float), np.asarray(lat, float)
    wlng, wlat = glng.copy(), glat.copy()
    for _ in range(30):
        flng, flat = wgs84_to_gcj02(wlng, wlat)
        elng, elat = flng - glng, flat - glat
        wlng, wlat = wlng - elng, wlat - elat
        if np.all(np.abs(elng) < 1e-11) and np.all(np.abs(elat) < 1e-11):
            break
    return wlng, wlat


def bd09_to_gcj02(lng: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Convert Baidu BD-09 to GCJ-02.

    Parameters
    ----------
    lng, lat
        BD-09 longitudes and latitudes in degrees (arrays of one shape).

    Returns
    -------
    tuple of numpy.ndarray
        GCJ-02 longitudes and latitudes.
    """
    x = np.asarray(lng, float) - 0.0065
    y = np.asarray(lat, float) - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def gcj02_to_bd09(lng: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Convert GCJ-02 to Baidu BD-09.

    Parameters
    ----------
    lng, lat
        GCJ-02 longitudes and latitudes in degrees (arrays of one shape).

    Returns
    -------
    tuple of numpy.ndarray
        BD-09 longitudes and latitudes.
    """
    x, y = np.asarray(lng, float), np.asarray(lat, float)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_wgs84(lng: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Convert Baidu BD-09 to WGS-84.

    Parameters
    ----------
    lng, lat
        BD-09 longitudes and latitudes in degrees (arrays of one shape).

    Returns
    -------
    tuple of numpy.ndarray
        WGS-84 longitudes and latitudes.
    """
    return gcj02_to_wgs84(*bd09_to_gcj02(lng, lat))


def unshift_to_wgs84(gdf: gpd.GeoDataFrame, shifted: ShiftedCRS) -> gpd.GeoDataFrame:
    """Convert a layer whose coordinates are GCJ-02 or BD-09 degrees to WGS-84.

    Works on any geometry type: every vertex is converted.

    Parameters
    ----------
    gdf
        The layer, with coordinates in the shifted system (its declared CRS, if any, is
        ignored: these systems have no EPSG code).
    shifted
        ``"gcj02"`` (Amap, Tencent) or ``"bd09"`` (Baidu).

    Returns
    -------
    geopandas.GeoDataFrame
        A copy in EPSG:4326.
    """
    convert = {"gcj02": gcj02_to_wgs84, "bd09": bd09_to_wgs84}.get(shifted)
    if convert is None:
        msg = f"Unknown shifted coordinate system {shifted!r}; use 'gcj02' or 'bd09'."
        raise InputError(msg)

    def _transform(coords: np.ndarray) -> np.ndarray:
        lng, lat = convert(coords[:, 0], coords[:, 1])
        return np.column_stack([lng, lat])

    out = gdf.copy()
    out = out.set_geometry(shapely.transform(np.asarray(gdf.geometry.values), _transform),
                           crs=WGS84)
    return out


def looks_like_gcj02(points: gpd.GeoDataFrame, distance_to_streets: Callable[[gpd.GeoDataFrame],
                                                                             np.ndarray]
                     ) -> tuple[bool, float, float]:
    """Tell whether WGS-84 points are really GCJ-02 (Amap / Tencent) left unconverted.

    GCJ-02 shifts points in China by a few hundred metres in a smooth, systematic way, so
    shops that stand on their streets sit off them. The points are measured to the
    streets as they are and as if converted from GCJ-02; when the conversion brings the
    median distance under half and the points were more than 30 m off, they look like
    GCJ-02.

    Parameters
    ----------
    points
        Points in WGS-84 (EPSG:4326).
    distance_to_streets
        Returns each point's distance to the nearest street, in metres.

    Returns
    -------
    tuple
        (looks like GCJ-02, median metres as given, median metres if converted).
    """
    inside = ~_out_of_china(points.geometry.x.to_numpy(), points.geometry.y.to_numpy())
    if inside.sum() < 3:
        return False, float("nan"), float("nan")
    pts = points[inside]
    as_given = float(np.median(distance_to_streets(pts)))
    converted = float(np.median(distance_to_streets(unshift_to_wgs84(pts, "gcj02"))))
    return (as_given > 30.0 and converted < 0.5 * as_given), as_given, converted
