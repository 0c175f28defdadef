"""Walled residential compounds (小区): residents leave only through the gates.

A compound is a residential area enclosed by walls or fences, from OpenStreetMap
(``landuse=residential`` polygons whose edge is mostly wall or fence, or areas tagged
``barrier=wall`` / ``fence`` themselves; gates are ``barrier=gate`` / ``entrance`` nodes
on the edge) or from the user's layers (outlines, and gate points with an optional
``night_closed`` flag). A home inside a compound reaches the street network only through
an open gate: the access leg is the straight line from the home to the gate, inside the
compound, then the gate's own attachment to the street. Internal paths are not modelled:
the straight line stands in for them. At night, gates marked closed at night are shut.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.crs import require_projected
from gis.data.sources import GATE_VALUES, WALL_VALUES
from gis.network.graph import Snap, WalkNetwork

#: entrance=* values that open a compound (on its edge); building entrances inside a
#: compound are not on its edge and so never become gates.
ENTRANCE_VALUES = ("main", "yes", "service")
#: A residential area's edge counts as walled where it lies within this distance of a wall.
WALL_TOLERANCE_M = 3.0


@dataclass(frozen=True)
class Compounds:
    """Compound outlines and their gates, in a metric CRS.

    Attributes
    ----------
    areas
        Polygons with ``compound_id``.
    gates
        Points with ``compound_id`` and ``night_closed`` (bool).
    """

    areas: gpd.GeoDataFrame
    gates: gpd.GeoDataFrame

    def __len__(self) -> int:
        return len(self.areas)


def compounds_from_osm(landuse: gpd.GeoDataFrame, barriers: gpd.GeoDataFrame, *,
                       wall_share: float = 0.6, gate_tolerance_m: float = 15.0) -> Compounds:
    """Detect walled compounds and their gates from OpenStreetMap layers (metric CRS).

    Parameters
    ----------
    landuse
        Landuse polygons with ``landuse``.
    barriers
        Barrier features with ``barrier`` (walls and fences as lines or areas, gates as
        points) and ``entrance`` (entrance nodes on the edge are gates too);
        ``opening_hours`` on a gate, when it does not say 24/7, marks it closed at night.
    wall_share
        Share of a residential area's edge that must run along walls or fences.
    gate_tolerance_m
        How close to the edge a gate must be.

    Returns
    -------
    Compounds
        Compound outlines and their gates.
    """
    layers = [("landuse", landuse)]
    if len(barriers):
        layers.append(("barriers", barriers))
    require_projected(*layers)
    res = landuse[landuse["landuse"] == "residential"]
    res = res[res.geom_type.isin(["Polygon", "MultiPolygon"])]
    btype = barriers["barrier"].astype(str) if len(barriers) else pd.Series(dtype=str)
    walls = barriers[btype.isin(WALL_VALUES).to_numpy()] if len(barriers) else barriers
    wall_geoms = np.asarray(walls.geometry.values) if len(walls) else np.array([])
    is_area = shapely.get_type_id(wall_geoms) >= 3 if wall_geoms.size else np.array([])
    walled_areas = walls[walls.geom_type.isin(["Polygon", "MultiPolygon"])] \
        if len(walls) else walls
    areas = []
    if wall_geoms.size:
        bands, tree = _walls_index(wall_geoms, is_area)
        areas = [geom for geom in np.asarray(res.geometry.values)
                 if _wall_share(geom, bands, tree) >= wall_share]
    areas += list(np.asarray(walled_areas.geometry.values))
    crs = landuse.crs
    comp = gpd.GeoDataFrame({"compound_id": np.arange(1, len(areas) + 1)},
                            geometry=areas, crs=crs)
    is_gate = btype.isin(GATE_VALUES)
    if "entrance" in barriers and len(barriers):
        is_gate |= barriers["entrance"].astype(str).isin(ENTRANCE_VALUES)
    gates = barriers[is_gate.to_numpy() &
                     (barriers.geom_type == "Point").to_numpy()] if len(barriers) else barriers
    night = (gates["opening_hours"].astype(str).str.strip().ne("24/7")
             & gates["opening_hours"].notna()) if "opening_hours" in gates else \
        pd.Series(False, index=gates.index)
    return compounds_from_layers(comp, gates.assign(night_closed=night.to_numpy()),
                                 gate_tolerance_m=gate_tolerance_m)


def _walls_index(wall_geoms: np.ndarray,
                 is_area: np.ndarray) -> tuple[np.ndarray, shapely.STRtree]:
    """Return every wall buffered once by ``WALL_TOLERANCE_M``, and their STRtree."""
    lines = np.where(is_area, shapely.boundary(wall_geoms), wall_geoms)
    bands = shapely.buffer(lines, WALL_TOLERANCE_M)
    return bands, shapely.STRtree(bands)


def _wall_share(geom: shapely.Geometry, bands: np.ndarray, tree: shapely.STRtree) -> float:
    """Return the share of ``geom``'s edge that runs along walls or fences.

    Only the wall bands near the edge (found through the STRtree) are unioned, so the
    work per area does not grow with the number of walls in the whole study area.
    """
    edge = shapely.boundary(geom)
    if edge.length <= 0:
        return 0.0
    near = tree.query(edge, predicate="intersects")
    if near.size == 0:
        return 0.0
    along = shapely.intersection(edge, shapely.union_all(bands[near]))
    return float(along.length / edge.length)


def compounds_from_layers(areas: gpd.GeoDataFrame, gates: gpd.GeoDataFrame, *,
                          gate_tolerance_m: float = 15.0) -> Compounds:
    """Build compounds from outline polygons and gate points (metric CRS).

    Each gate belongs to the compound whose edge is nearest, within ``gate_tolerance_m``;
    gates farther from every edge are ignored. A ``night_closed`` column (bool) on the
    gates marks gates shut at night.

    Parameters
    ----------
    areas
        Compound outlines (polygons).
    gates
        Gate points, optionally ``night_closed``.
    gate_tolerance_m
        How close to an edge a gate must be.

    Returns
    -------
    Compounds
        Compound outlines and their gates.
    """
    if len(areas) == 0:
        empty = gpd.GeoDataFrame({"compound_id": [], "night_closed": []},
                                 geometry=gpd.GeoSeries([], crs=areas.crs), crs=areas.crs)
        return Compounds(areas.assign(compound_id=[]) if "compound_id" not in areas else areas,
                         empty)
    require_projected(("areas", areas), ("gates", gates))
    areas = areas.reset_index(drop=True)
    if "compound_id" not in areas:
        areas = areas.assign(compound_id=np.arange(1, len(areas) + 1))
    edges = gpd.GeoDataFrame({"compound_id": areas["compound_id"].to_numpy()},
                             geometry=areas.geometry.boundary.to_numpy(), crs=areas.crs)
    g = gates.reset_index(drop=True)
    night = (g["night_closed"].fillna(False).astype(bool).to_numpy() if "night_closed" in g
             else np.zeros(len(g), dtype=bool))
    g = gpd.GeoDataFrame({"night_closed": night}, geometry=g.geometry.to_numpy(), crs=g.crs)
    near = gpd.sjoin_nearest(g, edges, max_distance=gate_tolerance_m, how="inner")
    near = near[~near.index.duplicated()]
    out = gpd.GeoDataFrame({"compound_id": near["compound_id"].to_numpy(),
                            "night_closed": near["night_closed"].to_numpy()},
                           geometry=near.geometry.to_numpy(), crs=g.crs)
    return Compounds(areas[["compound_id", areas.geometry.name]], out)


@dataclass(frozen=True)
class GateAccess:
    """How the homes inside compounds reach the streets: (home, gate) pairs.

    Attributes
    ----------
    home_pos
        Position (in the homes given) of each pair's home.
    gate_pos
        Position of each pair's gate in ``gate_snap``.
    straight_m
        Straight distance from the home to the gate, inside the compound.
    gate_snap
        Where the gates attach to the network.
    enclosed
        Positions of every home inside a compound (those with no open gate are cut off).
    """

    home_pos: np.ndarray
    gate_pos: np.ndarray
    straight_m: np.ndarray
    gate_snap: Snap
    enclosed: np.ndarray


def gate_access(network: WalkNetwork, homes: gpd.GeoDataFrame, compounds: Compounds, *,
                night: bool = False, snap_max_m: float) -> GateAccess:
    """Pair every home inside a compound with the compound's open gates.

    Parameters
    ----------
    network
        The walking network.
    homes
        Homes in the network CRS (their order defines the positions).
    compounds
        Compound outlines and gates.
    night
        Shut the gates marked ``night_closed``.
    snap_max_m
        Gates farther than this from the network are unusable.

    Returns
    -------
    GateAccess
        For every enclosed home, the gates it leaves by and the straight walk to each.
    """
    cent = gpd.GeoDataFrame({"pos": np.arange(len(homes))},
                            geometry=homes.geometry.centroid.to_numpy(), crs=homes.crs)
    inside = gpd.sjoin(cent, compounds.areas, predicate="within", how="inner")
    inside = inside[~inside.index.duplicated()]
    gates = compounds.gates
    if night:
        gates = gates[~gates["night_closed"].to_numpy(dtype=bool)]
    gates = gates.reset_index(drop=True)
    gsnap = network.snap(gates, max_m=snap_max_m)
    pairs = inside[["pos", "compound_id"]].merge(
        pd.DataFrame({"gate": np.arange(len(gates)),
                      "compound_id": gates["compound_id"].to_numpy()}), on="compound_id")
    pairs = pairs[gsnap.ok[pairs["gate"].to_numpy()]] if len(pairs) else pairs
    hp = pairs["pos"].to_numpy(dtype=np.int64)
    gp = pairs["gate"].to_numpy(dtype=np.int64)
    straight = shapely.distance(np.asarray(cent.geometry.values)[hp],
                                np.asarray(gates.geometry.values)[gp]) if len(pairs) \
        else np.zeros(0)
    return GateAccess(hp, gp, np.asarray(straight, dtype=float), gsnap,
                      inside["pos"].to_numpy(dtype=np.int64))


def through_gates(network: WalkNetwork, access: GateAccess, node_dist: np.ndarray,
                  sources: Snap, n_homes: int) -> np.ndarray:
    """Return each enclosed home's distance to the nearest source through an open gate.

    Returns an array of length ``n_homes``: the gate-based distance for enclosed homes
    (inf when no open gate leads anywhere), NaN for homes outside compounds.

    Parameters
    ----------
    network
        The walking network.
    access
        The gate pairing of :func:`gate_access`.
    node_dist
        Node distances to the nearest source.
    sources
        The sources searched from.
    n_homes
        How many homes there are.

    Returns
    -------
    numpy.ndarray
        Metres per home (see above).
    """
    out = np.full(n_homes, np.nan)
    out[access.enclosed] = np.inf
    if access.home_pos.size:
        gate_dist = network.distances_to(access.gate_snap, node_dist, sources)
        via = access.straight_m + gate_dist[access.gate_pos]
        best = np.full(n_homes, np.inf)
        np.minimum.at(best, access.home_pos, via)
        out[access.enclosed] = best[access.enclosed]
    return out
