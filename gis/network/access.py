"""How homes reach the walking network: one object that every analysis shares.

A coverage result carries an :class:`Access`, and every step after it (service circles,
households served, gaps, candidate sites, siting, what-if, scenarios, standards) asks it
for walking distances instead of snapping the homes again. So one snap limit and one gate
model hold for every number the tool shows.

A home enters the network through its *exits*:

- a home outside walled compounds has one exit, its own attachment point on the nearest
  street (access leg: the straight line to it);
- a home inside a walled compound has one exit per open gate of its compound (access leg:
  the straight line to the gate inside the compound, plus the gate's own attachment);
  with every gate shut it has none and no facility reaches it.

A home farther than the snap limit from every street is *not attached*: it is left out of
every total, with a reason, and has no exit. The walking distance from a home to a set of
sources (facilities) is the shortest over its exits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj

from gis._errors import CRSMismatchError, EmptyInputError, InputError
from gis.crs import require_projected
from gis.network.compounds import Compounds, gate_access
from gis.network.graph import Snap, WalkNetwork
from gis.progress import Progress

log = logging.getLogger(__name__)



@dataclass(frozen=True, eq=False)
class Access:
    """The walking network and how each home and facility reaches it.

    Build it with :func:`build_access`; it is never changed afterwards.

    Attributes
    ----------
    network
        The walking network.
    homes
        The homes (households > 0) in the network's CRS; every array below is in this
        order.
    snap_max_m
        Points farther than this from every street are not attached (homes) or left out
        (facilities, candidate sites, clicked points).
    home_snap
        Each home's own attachment; ``home_snap.ok`` is the attached flag.
    exits
        The points where homes enter the network (see the module docstring), as a snap
        whose ``access_m`` is the whole leg from the home.
    exit_home
        Position (in ``homes``) of the home of each exit.
    enclosed
        True for homes inside a walled compound (they leave only through its gates).
    compounds
        The walled compounds honoured, or None.
    night
        True when the gates closed at night are shut.
    """

    network: WalkNetwork
    homes: gpd.GeoDataFrame
    snap_max_m: float
    home_snap: Snap
    exits: Snap
    exit_home: np.ndarray
    enclosed: np.ndarray
    compounds: Compounds | None = None
    night: bool = False

    # -- what it holds ----------------------------------------------------------------

    @property
    def crs(self) -> pyproj.CRS:
        """Return the metric CRS of the network and the homes."""
        return self.network.crs

    @property
    def n_homes(self) -> int:
        """Return the number of homes."""
        return len(self.homes)

    @property
    def attached(self) -> np.ndarray:
        """Return the attached flag of every home (within the snap limit of a street)."""
        return self.home_snap.ok

    @property
    def gates(self) -> str:
        """Return the gate model: ``"off"``, ``"day"`` or ``"night"``."""
        if self.compounds is None or len(self.compounds) == 0:
            return "off"
        return "night" if self.night else "day"

    def describe(self) -> dict[str, object]:
        """Return the options behind every distance, for reports and cache keys.

        Returns
        -------
        dict
            ``snap_max_m``, ``gates``, ``compounds``, ``homes`` and ``homes_enclosed``.
        """
        return {"snap_max_m": self.snap_max_m, "gates": self.gates,
                "compounds": 0 if self.compounds is None else len(self.compounds),
                "homes": self.n_homes, "homes_enclosed": int(self.enclosed.sum())}

    # -- queries ----------------------------------------------------------------------

    def snap(self, points: gpd.GeoDataFrame | gpd.GeoSeries) -> Snap:
        """Attach facilities, candidate sites or clicked points under the same snap limit.

        Parameters
        ----------
        points
            Points in the network's CRS.

        Returns
        -------
        Snap
            Where each point attaches (``ok`` False beyond the snap limit).
        """
        return self.network.snap(points, max_m=self.snap_max_m)

    def home_positions(self, index: pd.Index) -> np.ndarray:
        """Return the positions of the homes labelled ``index``; raise for unknown ones.

        Parameters
        ----------
        index
            Labels of :attr:`homes`.

        Returns
        -------
        numpy.ndarray
            Their positions.
        """
        pos = np.asarray(self.homes.index.get_indexer(index))
        if (pos < 0).any():
            msg = ("Some homes are not part of this coverage result's access model; run the "
                   "analysis on the result's own homes (result.homes).")
            raise InputError(msg)
        return pos

    def subset(self, positions: np.ndarray) -> Access:
        """Return the access model of the homes at ``positions`` (same network and gates).

        ``positions`` are integer positions or a boolean mask over :attr:`homes`.

        Parameters
        ----------
        positions
            Integer positions or a boolean mask over :attr:`homes`.

        Returns
        -------
        Access
            A new access model.
        """
        pos = np.flatnonzero(positions) if np.asarray(positions).dtype == bool else \
            np.asarray(positions, dtype=np.int64)
        new_pos = np.full(self.n_homes, -1, dtype=np.int64)
        new_pos[pos] = np.arange(pos.size)
        keep = new_pos[self.exit_home] >= 0
        exits = self.exits.subset(keep)
        return Access(self.network, self.homes.iloc[pos], self.snap_max_m,
                      self.home_snap.subset(pos), _renumber(exits),
                      new_pos[self.exit_home[keep]], self.enclosed[pos], self.compounds,
                      self.night)

    def home_distances(self, node_dist: np.ndarray, sources: Snap,
                       node_source: np.ndarray | None = None
                       ) -> tuple[np.ndarray, np.ndarray | None]:
        """Return each home's walking distance to its nearest source, and optionally which.

        Parameters
        ----------
        node_dist
            Node distances to the sources (``network.nearest_sources`` or a bounded
            search: a node beyond the bound has ``inf``).
        sources
            The snapped sources of that search.
        node_source
            The nearest source of every node (second result of
            ``network.nearest_sources(..., with_source=True)``); with it the position of
            each home's nearest source is returned too.

        Returns
        -------
        tuple
            Metres per home (NaN: not attached; inf: no source reached), and the
            position in ``sources`` of each home's nearest source (-1: none), or None.
        """
        d_exit, w_exit = self.network.nearest_to(self.exits, node_dist, sources, node_source)
        best = np.full(self.n_homes, np.inf)
        np.minimum.at(best, self.exit_home, d_exit)
        best[~self.attached] = np.nan
        which = None
        if w_exit is not None:
            which = np.full(self.n_homes, -1, dtype=np.int64)
            order = np.lexsort((d_exit, self.exit_home))
            first = np.ones(order.size, dtype=bool)
            first[1:] = self.exit_home[order][1:] != self.exit_home[order][:-1]
            pick = order[first]
            which[self.exit_home[pick]] = np.where(np.isfinite(d_exit[pick]), w_exit[pick], -1)
        return best, which

    def pair_distances(self, sources: Snap, *, limit_m: float
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return every (source, home) pair within ``limit_m`` walking, and its distance.

        One bounded search per source, all in one compiled loop
        (:meth:`WalkNetwork.pairs_within`); a home is reached through any of its exits,
        via an end of the exit's street or along the street from a source on it. Memory
        follows the pairs reached, not sources x homes.

        Parameters
        ----------
        sources
            Attached sources (facilities, candidates).
        limit_m
            The walking distance searched.

        Returns
        -------
        tuple
            Positions in ``sources``, positions of homes, and metres (each pair once,
            at its shortest distance).
        """
        return self.network.pairs_within(sources, self.exits, self.exit_home, self.n_homes,
                                         limit_m=limit_m)

    def distances(self, sources: Snap, *, limit_m: float | None = None) -> np.ndarray:
        """Return each home's walking distance to the nearest of ``sources``, one search.

        Beyond ``limit_m`` (when given) a home's distance is ``inf``.

        Parameters
        ----------
        sources
            Attached sources.
        limit_m
            Stop the search here (None: no limit).

        Returns
        -------
        numpy.ndarray
            Metres per home (``inf``: none reached; NaN: the home is not attached).
        """
        node_dist = self.network.node_distances(sources, limit_m=limit_m)
        dist = self.home_distances(node_dist, sources)[0]
        if limit_m is not None:
            dist = np.where(dist <= limit_m, dist, np.where(np.isnan(dist), np.nan, np.inf))
        return dist


def _renumber(snap: Snap) -> Snap:
    return Snap(pd.RangeIndex(snap.edge.size), snap.edge, snap.offset_m, snap.access_m,
                snap.too_far)


def build_access(network: WalkNetwork, homes: gpd.GeoDataFrame, *, snap_max_m: float,
                 compounds: Compounds | None = None, night: bool = False,
                 home_snap: Snap | None = None,
                 progress: Progress | None = None) -> Access:
    """Build the access model of ``homes`` on ``network``.

    Parameters
    ----------
    network
        The walking network.
    homes
        Residential buildings (polygons or points) in the network's CRS with a
        ``households`` column; rows with no households are left out.
    snap_max_m
        Homes (and later facilities and sites) farther than this from every street are
        not attached.
    compounds
        Walled compounds whose homes leave only through the gates (see gis.network.compounds).
    night
        With compounds, shut the gates closed at night.
    home_snap
        A snap of ``homes`` already made with the same limit (the homes do not move).
    progress
        Called with a message per step.

    Returns
    -------
    Access

    Examples
    --------
    >>> access = build_access(study.network, study.homes, snap_max_m=250)  # doctest: +SKIP
    >>> access.attached.mean()  # doctest: +SKIP
    0.99
    """
    say = progress or (lambda _m: None)
    require_projected(("homes", homes))
    if not pyproj.CRS(homes.crs).equals(network.crs):
        msg = (f"`homes` are in {homes.crs} but the network is in {network.crs.to_string()}; "
               "project them with gis.crs.to_local(homes, network.crs).")
        raise CRSMismatchError(msg)
    if "households" not in homes:
        msg = "`homes` has no `households` column; run gis.data.households.estimate_households."
        raise InputError(msg)
    if not np.isfinite(snap_max_m) or snap_max_m <= 0:
        msg = f"The snap limit must be a positive number of metres, found {snap_max_m}."
        raise InputError(msg)
    homes = homes[homes["households"].to_numpy() > 0]
    if len(homes) == 0:
        msg = "No residential buildings with households in the study area."
        raise EmptyInputError(msg)
    if home_snap is not None and home_snap.index.equals(homes.index):
        hsnap = home_snap
    elif home_snap is not None:
        pos = home_snap.index.get_indexer(homes.index)
        if (pos < 0).any():
            msg = "`home_snap` does not cover every home; snap the homes again."
            raise InputError(msg)
        hsnap = home_snap.subset(pos)
    else:
        say(f"attaching {len(homes)} homes to the network")
        hsnap = network.snap(homes, max_m=snap_max_m)
    n = len(homes)
    enclosed = np.zeros(n, dtype=bool)
    attached = hsnap.ok
    # Plain exits: each attached home's own attachment point.
    ex_home = [np.flatnonzero(attached)]
    ex_edge = [hsnap.edge[attached]]
    ex_off = [hsnap.offset_m[attached]]
    ex_acc = [hsnap.access_m[attached]]
    if compounds is not None and len(compounds):
        say(f"routing homes in {len(compounds)} walled compounds through their gates")
        ga = gate_access(network, homes, compounds, night=night, snap_max_m=snap_max_m)
        enclosed[ga.enclosed] = True
        keep_plain = ~enclosed[ex_home[0]]
        ex_home = [ex_home[0][keep_plain]]
        ex_edge = [ex_edge[0][keep_plain]]
        ex_off = [ex_off[0][keep_plain]]
        ex_acc = [ex_acc[0][keep_plain]]
        via = attached[ga.home_pos]
        hp, gp, straight = ga.home_pos[via], ga.gate_pos[via], ga.straight_m[via]
        ex_home.append(hp)
        ex_edge.append(ga.gate_snap.edge[gp])
        ex_off.append(ga.gate_snap.offset_m[gp])
        ex_acc.append(straight + ga.gate_snap.access_m[gp])
    exit_home = np.concatenate(ex_home).astype(np.int64)
    edge = np.concatenate(ex_edge).astype(np.int64)
    exits = Snap(pd.RangeIndex(exit_home.size), edge, np.concatenate(ex_off).astype(float),
                 np.concatenate(ex_acc).astype(float), np.zeros(exit_home.size, dtype=bool))
    log.info("access: %d homes, %d attached, %d in compounds, %d exits", n,
             int(attached.sum()), int(enclosed.sum()), exit_home.size)
    return Access(network, homes, float(snap_max_m), hsnap, exits, exit_home, enclosed,
                  compounds if compounds is not None and len(compounds) else None,
                  bool(night))
