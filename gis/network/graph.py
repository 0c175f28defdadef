"""Walking network: build it once from street lines, snap points onto it, search it.

The network is an undirected graph stored as a symmetric compressed sparse row matrix, so
that the compiled Dijkstra of ``scipy.sparse.csgraph`` does every search. Points
(buildings, facilities) are attached to the nearest point on an edge of the kept network:
the access leg is measured to that point and the edge is split there, without copying the
graph: a point on edge (u, v) at ``offset_m`` from u is ``offset_m`` from u and
``length - offset_m`` from v along the street.

Many sources at once (every facility of a category) are searched in a single pass by one
virtual source node joined to both ends of every source's edge, with the access leg and
the walk along the edge as the join weights.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components, dijkstra

from gis._errors import CRSMismatchError, EmptyInputError
from gis.cores import on_cores
from gis.network import _compiled

log = logging.getLogger(__name__)

#: Coordinates are rounded to this many metres when street ends are matched into nodes.
NODE_SNAP_DECIMALS = 2

#: Bounded searches from more sources than this share the cores (a thread each).
PARALLEL_SEARCHES_ABOVE = 2000


@dataclass(frozen=True)
class Snap:
    """Where each point of a layer attaches to the network; arrays align with ``index``.

    Attributes
    ----------
    index
        The index of the snapped layer.
    edge
        Edge number of the attachment (-1 for points farther than the limit).
    offset_m
        Distance along the edge from its first node ``u`` to the attachment point.
    access_m
        Straight-line access leg from the point to the attachment point, in metres.
    too_far
        True where ``access_m`` exceeds the snap limit; such points are left out.
    """

    index: pd.Index
    edge: np.ndarray
    offset_m: np.ndarray
    access_m: np.ndarray
    too_far: np.ndarray

    @property
    def ok(self) -> np.ndarray:
        """Return the mask of points attached to the network."""
        return ~self.too_far

    def subset(self, mask: np.ndarray) -> Snap:
        """Return the snap of the points selected by ``mask`` (boolean or positions).

        Parameters
        ----------
        mask
            Boolean mask or positions.

        Returns
        -------
        Snap
            The selected points' attachment.
        """
        return Snap(self.index[mask], self.edge[mask], self.offset_m[mask],
                    self.access_m[mask], self.too_far[mask])


#: Above this many points, a snap's nearest-edge queries run on every core.
PARALLEL_SNAP_ABOVE = 20_000


def _nearest(tree: shapely.STRtree, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``tree.query_nearest(pts)`` (one nearest each, with distances), on every core.

    GEOS releases the GIL in the query: consecutive runs of points are queried in
    threads and joined in order. Each point's answer does not depend on the others, so
    the result is the same as one query's (Porto's 100,000 homes: 1.4 -> 0.7 s on 2 cores).
    """
    workers = min(os.cpu_count() or 1, 1 + pts.size // PARALLEL_SNAP_ABOVE)
    if workers < 2:
        found, dist = tree.query_nearest(pts, return_distance=True, all_matches=False)
        return np.asarray(found), np.asarray(dist)
    starts = np.linspace(0, pts.size, workers + 1).astype(np.int64)
    parts = on_cores(lambda k: tree.query_nearest(pts[starts[k]:starts[k + 1]],
                                                  return_distance=True, all_matches=False),
                     range(workers))
    found = np.concatenate([f + np.array([[start], [0]]) for (f, _d), start
                            in zip(parts, starts[:-1], strict=True)], axis=1)
    return found, np.concatenate([d for _f, d in parts])


@dataclass(frozen=True, eq=False)
class WalkNetwork:
    """A walking network in a metric CRS, ready for repeated searches.

    Build it with :func:`network_from_streets`; it is never changed afterwards, so one
    network can serve every session of the app.

    Attributes
    ----------
    crs
        The metric CRS of every coordinate and length.
    node_xy
        Node coordinates, shape (n_nodes, 2).
    edge_u, edge_v
        End nodes of every edge; ``edge_geometry[i]`` runs from ``edge_u[i]`` to
        ``edge_v[i]``.
    edge_length_m
        Edge lengths in metres (the geometry's length).
    edge_geometry
        Shapely LineStrings.
    n_dropped_nodes, n_components
        Nodes in pieces too small to keep (dropped), and how many connected pieces the
        input had.
    node_piece
        The kept piece of every node: 0 is the largest, then by size. Homes and
        facilities route within the piece they attach to.
    """

    crs: pyproj.CRS
    node_xy: np.ndarray
    edge_u: np.ndarray
    edge_v: np.ndarray
    edge_length_m: np.ndarray
    edge_geometry: np.ndarray
    n_dropped_nodes: int
    n_dropped_edges: int
    n_components: int
    node_piece: np.ndarray = field(repr=False)
    _csr: sp.csr_matrix = field(repr=False)
    _tree: shapely.STRtree = field(repr=False)

    @property
    def n_nodes(self) -> int:
        """Return the number of nodes."""
        return int(self.node_xy.shape[0])

    @property
    def n_edges(self) -> int:
        """Return the number of edges."""
        return int(self.edge_u.shape[0])

    @property
    def n_pieces(self) -> int:
        """Return the number of connected pieces kept."""
        return int(self.node_piece.max()) + 1 if self.node_piece.size else 0

    @property
    def edge_piece(self) -> np.ndarray:
        """Return the piece of every edge."""
        return np.asarray(self.node_piece[self.edge_u])

    def edges_gdf(self) -> gpd.GeoDataFrame:
        """Return the edges as a GeoDataFrame (u, v, length_m) in the network CRS.

        Returns
        -------
        geopandas.GeoDataFrame
            ``u``, ``v``, ``length_m`` and the edge lines.
        """
        return gpd.GeoDataFrame({"u": self.edge_u, "v": self.edge_v,
                                 "length_m": self.edge_length_m},
                                geometry=self.edge_geometry, crs=self.crs)

    def snap(self, points: gpd.GeoSeries | gpd.GeoDataFrame, *, max_m: float) -> Snap:
        """Attach every point to the nearest point on an edge.

        Polygons attach by their centroid.

        Parameters
        ----------
        points
            A layer in the network's CRS.
        max_m
            Points farther than this from every edge are marked ``too_far``.

        Returns
        -------
        Snap
            Arrays aligned with ``points.index``.
        """
        geoms = points.geometry if isinstance(points, gpd.GeoDataFrame) else points
        if geoms.crs is None or not pyproj.CRS(geoms.crs).equals(self.crs):
            msg = (f"`points` are in {geoms.crs} but the network is in {self.crs.to_string()}; "
                   "project them with gis.crs.to_local(layer, network.crs) first.")
            raise CRSMismatchError(msg)
        arr = np.asarray(geoms.values)
        n = len(arr)
        if n == 0:
            empty = np.zeros(0)
            return Snap(geoms.index, empty.astype(np.int64), empty, empty, empty.astype(bool))
        valid = ~(shapely.is_missing(arr) | shapely.is_empty(arr))
        pts = np.asarray(arr, dtype=object).copy()
        not_point = valid & (shapely.get_type_id(arr) != 0)
        pts[not_point] = shapely.centroid(arr[not_point])
        edge = np.full(n, -1, dtype=np.int64)
        access = np.full(n, np.inf)
        idx = np.flatnonzero(valid)
        if idx.size:
            found, dist = _nearest(self._tree, pts[idx])
            edge[idx[found[0]]] = found[1]
            access[idx[found[0]]] = dist
        offset = np.zeros(n)
        has = edge >= 0
        offset[has] = shapely.line_locate_point(self.edge_geometry[edge[has]], pts[has])
        too_far = ~has | (access > max_m)
        edge[too_far] = -1
        return Snap(geoms.index, edge, offset, access, too_far)

    def _with_sources(self, joins: list[tuple[np.ndarray, np.ndarray]]) -> sp.csr_matrix:
        """Return the graph with one extra virtual source row per entry of ``joins``.

        ``joins[k]`` is (nodes, weights): virtual source ``n_nodes + k`` is joined to those
        nodes with those weights. Only outgoing joins are added, so a virtual source is
        never a shortcut between two real nodes.
        """
        n = self.n_nodes
        base = self._csr
        counts = np.array([nodes.size for nodes, _w in joins], dtype=np.int64)
        indptr = np.concatenate([base.indptr, base.indptr[-1] + np.cumsum(counts)])
        indices = np.concatenate([base.indices, *(nodes for nodes, _w in joins)])
        values = np.concatenate([base.data, *(w for _n, w in joins)])
        k = len(joins)
        return sp.csr_matrix((values, indices.astype(base.indices.dtype),
                              indptr.astype(base.indptr.dtype)), shape=(n + k, n + k))

    def _join_with_source(self, sources: Snap) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return the nodes joined to the sources, the shortest join weight, and its source.

        A source at ``offset_m`` along edge (u, v) is joined to u with access + offset and
        to v with access + (length - offset); of several joins to one node the shortest
        is kept, with the position of its source.
        """
        pos = np.flatnonzero(sources.ok)
        e = sources.edge[pos]
        a = sources.access_m[pos]
        t = sources.offset_m[pos]
        nodes = np.concatenate([self.edge_u[e], self.edge_v[e]])
        weights = np.concatenate([a + t, a + self.edge_length_m[e] - t])
        owner = np.concatenate([pos, pos])
        order = np.lexsort((weights, nodes))
        nodes, weights, owner = nodes[order], weights[order], owner[order]
        first = np.ones(nodes.size, dtype=bool)
        first[1:] = nodes[1:] != nodes[:-1]
        return nodes[first], weights[first], owner[first]

    def node_distances(self, sources: Snap, *, limit_m: float | None = None) -> np.ndarray:
        """Return every node's walking distance to the nearest source, in one search.

        Parameters
        ----------
        sources
            Snapped source points (e.g. all facilities of one category); points marked
            ``too_far`` are ignored.
        limit_m
            Stop the search at this distance; farther nodes get ``inf``.

        Returns
        -------
        numpy.ndarray
            Distances in metres, shape (n_nodes,), access legs of the sources included.
        """
        return self.nearest_sources(sources, limit_m=limit_m)[0]

    def nearest_sources(self, sources: Snap, *, limit_m: float | None = None,
                        with_source: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        """Return node distances to the nearest source and, optionally, which source.

        Parameters
        ----------
        sources
            Attached sources.
        limit_m
            Stop the search here (None: no limit).
        with_source
            Also return which source reaches each node.

        Returns
        -------
        tuple
            Distances in metres (n_nodes,), and with ``with_source`` the position in
            ``sources`` of each node's nearest source (-1 where none is reached), found
            by following the shortest-path tree back to the source it grew from.
        """
        n = self.n_nodes
        if not sources.ok.any():
            return np.full(n, np.inf), (np.full(n, -1) if with_source else None)
        nodes, weights, owner = self._join_with_source(sources)
        graph = self._with_sources([(nodes, weights)])
        limit = np.inf if limit_m is None else limit_m
        if not with_source:
            dist = dijkstra(graph, directed=True, indices=n, limit=limit)
            return np.asarray(dist[:n]), None
        dist, pred = dijkstra(graph, directed=True, indices=n, limit=limit,
                              return_predecessors=True)
        pred = np.asarray(pred[:n])
        # root[i]: the node where i's shortest path left the virtual source; found by
        # pointer jumping, a logarithmic number of vectorised passes.
        root = np.where(pred == n, np.arange(n), pred)
        root[pred < 0] = -1
        while True:
            ok = root >= 0
            nxt = root.copy()
            nxt[ok] = root[root[ok]]
            if np.array_equal(nxt, root):
                break
            root = nxt
        join_owner = np.full(n, -1, dtype=np.int64)
        join_owner[nodes] = owner
        src = np.where(root >= 0, join_owner[np.maximum(root, 0)], -1)
        return np.asarray(dist[:n]), src

    def distances_to(self, targets: Snap, node_dist: np.ndarray,
                     sources: Snap) -> np.ndarray:
        """Return each target's walking distance to its nearest source.

        A target leaves its edge through one of the edge's two nodes, or walks along the
        edge straight to a source on the same edge.

        Parameters
        ----------
        targets
            Snapped target points (e.g. residential buildings).
        node_dist
            Result of :meth:`node_distances` for ``sources``.
        sources
            The same sources.

        Returns
        -------
        numpy.ndarray
            Metres, aligned with ``targets.index``; ``nan`` for targets not attached,
            ``inf`` for attached targets no source reaches.
        """
        return self.nearest_to(targets, node_dist, sources)[0]

    def nearest_to(self, targets: Snap, node_dist: np.ndarray, sources: Snap,
                   node_source: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray | None]:
        """Return each target's distance to its nearest source and, optionally, which.

        ``node_source`` is the second result of :meth:`nearest_sources`; with it, the
        position of each target's nearest source is returned too (-1: none).

        Parameters
        ----------
        targets
            Attached targets (homes, candidates).
        node_dist
            Node distances of :meth:`nearest_sources`.
        sources
            The sources searched from.
        node_source
            Each node's nearest source, or None.

        Returns
        -------
        tuple
            Metres per target (``inf``: none reached) and, with ``node_source``, the position of
            its nearest source.
        """
        n = targets.edge.size
        out = np.full(n, np.nan)
        which = np.full(n, -1, dtype=np.int64) if node_source is not None else None
        ok = targets.ok
        e = targets.edge[ok]
        s = targets.offset_m[ok]
        via_u = node_dist[self.edge_u[e]] + s
        via_v = node_dist[self.edge_v[e]] + self.edge_length_m[e] - s
        along = np.minimum(via_u, via_v)
        best_src = None
        if node_source is not None:
            best_src = np.where(via_u <= via_v, node_source[self.edge_u[e]],
                                node_source[self.edge_v[e]])
            best_src = np.where(np.isfinite(along), best_src, -1)
        src_pos = np.flatnonzero(sources.ok)
        if src_pos.size:
            ti, sj = same_edge_pairs(e, sources.edge[src_pos])
            if ti.size:
                si = src_pos[sj]
                direct = np.abs(s[ti] - sources.offset_m[si]) + sources.access_m[si]
                # The best same-edge source of each target.
                order = np.lexsort((direct, ti))
                first = np.ones(order.size, dtype=bool)
                first[1:] = ti[order][1:] != ti[order][:-1]
                tb, sb, db = ti[order][first], si[order][first], direct[order][first]
                better = db < along[tb]
                if best_src is not None:
                    best_src[tb[better]] = sb[better]
                along[tb[better]] = db[better]
        out[ok] = targets.access_m[ok] + along
        if which is not None and best_src is not None:
            which[ok] = best_src
        return out, which

    def reachable_lines(self, node_dist: np.ndarray, budget_m: float,
                        sources: Snap | None = None) -> np.ndarray:
        """Return the parts of edges within ``budget_m`` of the sources, as LineStrings.

        Partly reachable edges are cut at the exact point where the budget runs out. With
        ``sources``, the stretch of each source's own edge it reaches directly is added.

        Parameters
        ----------
        node_dist
            Node distances of :meth:`nearest_sources`.
        budget_m
            The walking distance.
        sources
            The sources, to add the stretch of their own edges.

        Returns
        -------
        numpy.ndarray
            LineStrings in the network's CRS.
        """
        return self.reachable_parts(node_dist, budget_m, sources)[0]

    def reachable_parts(self, node_dist: np.ndarray, budget_m: float,
                        sources: Snap | None = None, node_source: np.ndarray | None = None
                        ) -> tuple[np.ndarray, np.ndarray]:
        """Return the street parts within ``budget_m`` of the sources and who reaches each.

        With ``node_source`` (the nearest source of every node, from
        :meth:`nearest_sources`), every reachable street part is given to its nearest
        source: an edge reached from both ends is cut where the two walks meet. The parts
        of all sources together are exactly :meth:`reachable_lines`; cut in one vectorised
        pass, with no search or union per source.

        Parameters
        ----------
        node_dist
            Node distances of :meth:`nearest_sources`.
        budget_m
            The walking distance.
        sources
            The sources.
        node_source
            Each node's nearest source, or None.

        Returns
        -------
        tuple
            LineStrings, and the position in ``sources`` of each one's source (-1
            without ``node_source``).
        """
        du, dv = node_dist[self.edge_u], node_dist[self.edge_v]
        ru, rv = budget_m - du, budget_m - dv
        length = self.edge_length_m
        whole = ru + rv >= length
        edges, starts, ends, owner = [], [], [], []
        if node_source is None:
            e = np.flatnonzero(whole)
            edges.append(e)
            starts.append(np.zeros(e.size))
            ends.append(length[e])
            owner.append(np.full(e.size, -1))
        else:
            su, sv = node_source[self.edge_u], node_source[self.edge_v]
            one = whole & ((su == sv) | ~np.isfinite(du) | ~np.isfinite(dv))
            e = np.flatnonzero(one)
            edges.append(e)
            starts.append(np.zeros(e.size))
            ends.append(length[e])
            owner.append(np.where(np.isfinite(du[e]) & ((du[e] <= dv[e]) | (su[e] == sv[e])),
                                  su[e], sv[e]))
            # Reached from both ends by different sources: cut where the walks meet.
            e = np.flatnonzero(whole & ~one)
            meet = np.clip((dv[e] + length[e] - du[e]) / 2.0, 0.0, length[e])
            edges += [e, e]
            starts += [np.zeros(e.size), meet]
            ends += [meet, length[e]]
            owner += [su[e], sv[e]]
        e = np.flatnonzero(~whole & (ru > 0))
        edges.append(e)
        starts.append(np.zeros(e.size))
        ends.append(ru[e])
        owner.append(node_source[self.edge_u[e]] if node_source is not None
                     else np.full(e.size, -1))
        e = np.flatnonzero(~whole & (rv > 0))
        edges.append(e)
        starts.append(length[e] - rv[e])
        ends.append(length[e])
        owner.append(node_source[self.edge_v[e]] if node_source is not None
                     else np.full(e.size, -1))
        if sources is not None:
            pos = np.flatnonzero(sources.ok)
            r = budget_m - sources.access_m[pos]
            pos, r = pos[r > 0], r[r > 0]
            e = sources.edge[pos]
            t = sources.offset_m[pos]
            edges.append(e)
            starts.append(np.maximum(0.0, t - r))
            ends.append(np.minimum(length[e], t + r))
            owner.append(pos if node_source is not None else np.full(e.size, -1))
        edge_a = np.concatenate(edges).astype(np.int64)
        lines = substrings(self.edge_geometry, edge_a, np.concatenate(starts),
                           np.concatenate(ends))
        own = np.concatenate(owner).astype(np.int64)
        keep = ~shapely.is_empty(lines)
        return lines[keep], own[keep]

    def pairs_within(self, sources: Snap, targets: Snap, group: np.ndarray, n_groups: int,
                     *, limit_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return every (source, group) pair within ``limit_m`` walking, at its shortest.

        Targets are points on the streets (a home's exits), each in a group (its home);
        a group is as near as its nearest target. One bounded search per attached
        source, all in one compiled loop (:func:`gis.network._compiled.pairs_within`) on
        the whole graph: a target is reached through either end of its street or along
        the street from a source on it. Cost and memory follow what is reached, not
        sources x nodes. (Cutting the graph around each group of sources for scipy, then
        sorting out the pairs, took 9.6 s for Porto's candidate sites; see
        benchmarks/RESULTS.md.)

        Parameters
        ----------
        sources
            Snapped sources (facilities, candidates); those not attached reach nothing.
        targets
            Attached points on the streets.
        group
            The group of each target (0 .. ``n_groups`` - 1).
        n_groups
            How many groups.
        limit_m
            The walking distance searched from each source.

        Returns
        -------
        tuple
            Positions in ``sources``, groups, and metres: each pair once, grouped by
            source, groups in increasing order.
        """
        src = np.flatnonzero(sources.ok)
        e = sources.edge[src]
        a, t = sources.access_m[src], sources.offset_m[src]
        start_node = np.column_stack([self.edge_u[e], self.edge_v[e]]).ravel().astype(np.int64)
        start_dist = np.column_stack([a + t, a + self.edge_length_m[e] - t]).ravel()
        start_ptr = np.arange(0, 2 * src.size + 1, 2, dtype=np.int64)
        # Targets by node (a target on edge (u, v) leaves through u and through v) and
        # by edge (for a source on the same street).
        n_t = targets.edge.size
        t_node = np.concatenate([self.edge_u[targets.edge], self.edge_v[targets.edge]])
        t_id = np.concatenate([np.arange(n_t), np.arange(n_t)])
        t_extra = np.concatenate([
            targets.offset_m + targets.access_m,
            self.edge_length_m[targets.edge] - targets.offset_m + targets.access_m])
        order = np.argsort(t_node, kind="stable")
        node_ptr = np.searchsorted(t_node[order], np.arange(self.n_nodes + 1)).astype(np.int64)
        by_edge = np.argsort(targets.edge, kind="stable")
        edge_ptr = np.searchsorted(targets.edge[by_edge],
                                   np.arange(self.edge_u.size + 1)).astype(np.int64)
        csr = self._csr
        node_exit, node_extra = t_id[order].astype(np.int64), t_extra[order]
        e, edge_exit = e.astype(np.int64), by_edge.astype(np.int64)
        home = np.asarray(group, dtype=np.int64)

        def run(lo: int, hi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            s_pos, g, dist = _compiled.pairs_within(
                csr.indptr, csr.indices, csr.data, start_ptr[lo:hi + 1] - start_ptr[lo],
                start_node[2 * lo:2 * hi], start_dist[2 * lo:2 * hi], float(limit_m),
                node_ptr, node_exit, node_extra, e[lo:hi], t[lo:hi], a[lo:hi], edge_ptr,
                edge_exit, targets.offset_m, targets.access_m, home, int(n_groups))
            return s_pos + lo, g, dist

        workers = min(os.cpu_count() or 1, 1 + src.size // PARALLEL_SEARCHES_ABOVE)
        if workers < 2:
            s_pos, g, dist = run(0, src.size)
            return src[s_pos], g, dist
        # The compiled loop releases the GIL: consecutive runs of sources on every core,
        # each with its own work arrays, joined in order (the same pairs, in the same order).
        # Four runs a core, taken in turn as cores come free: searches cost more where the
        # streets are dense (with one run a core, py-spy showed one core busy 1.25 s and
        # the other 1.62 s on Porto's candidate sites).
        cuts = np.linspace(0, src.size, 4 * workers + 1).astype(np.int64)
        parts = on_cores(lambda k: run(int(cuts[k]), int(cuts[k + 1])),
                         range(cuts.size - 1), workers=workers)
        s_pos, g, dist = (np.concatenate(x) for x in zip(*parts, strict=True))
        return src[s_pos], g, dist


def same_edge_pairs(edge_a: np.ndarray, edge_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return every pair (i, j) with ``edge_a[i] == edge_b[j]``: points on one street.

    Vectorised (a sort and two binary searches), linear in the pairs found.

    Parameters
    ----------
    edge_a, edge_b
        Edge ids of two sets of points.

    Returns
    -------
    tuple of numpy.ndarray
        Positions in ``edge_a`` and in ``edge_b``.
    """
    order = np.argsort(edge_b, kind="stable")
    sb = edge_b[order]
    lo = np.searchsorted(sb, edge_a, side="left")
    cnt = np.searchsorted(sb, edge_a, side="right") - lo
    total = int(cnt.sum())
    ia = np.repeat(np.arange(edge_a.size), cnt)
    starts = np.repeat(np.cumsum(cnt) - cnt, cnt)
    jb = order[np.repeat(lo, cnt) + (np.arange(total) - starts)]
    return ia, jb


def substrings(geoms: np.ndarray, which: np.ndarray, start: np.ndarray,
               end: np.ndarray) -> np.ndarray:
    """Return the part of ``geoms[which[k]]`` from ``start[k]`` to ``end[k]`` metres, for all k.

    A vectorised ``shapely.ops.substring`` for LineStrings: the cut points are
    interpolated and the vertices between them kept, in one pass over the coordinates.
    Empty where ``end <= start``.

    Parameters
    ----------
    geoms
        LineStrings.
    which
        The line each part is cut from.
    start, end
        Where each part starts and ends, in metres along its line.

    Returns
    -------
    numpy.ndarray
        The parts (LineStrings).
    """
    n = which.size
    out = np.full(n, None, dtype=object)
    ok = end > start + 1e-9
    out[~ok] = shapely.LineString()
    # A part that is its whole line (most of a walk's streets) is the line itself.
    whole = ok & (start <= 0.0)
    whole[whole] = end[whole] >= shapely.length(geoms[which[whole]]) - 1e-9
    out[whole] = geoms[which[whole]]
    idx = np.flatnonzero(ok & ~whole)
    if idx.size == 0:
        return out
    w, a, b = which[idx], start[idx], end[idx]
    lines = geoms[w]
    coords, owner = shapely.get_coordinates(lines, return_index=True)
    seg = np.hypot(*np.diff(coords, axis=0).T)
    same = owner[1:] == owner[:-1]
    cum = np.concatenate([[0.0], np.cumsum(np.where(same, seg, 0.0))])
    first = np.searchsorted(owner, np.arange(idx.size))
    cum -= cum[first][owner]
    inner = (cum > a[owner]) & (cum < b[owner])
    p0 = shapely.get_coordinates(shapely.line_interpolate_point(lines, a))
    p1 = shapely.get_coordinates(shapely.line_interpolate_point(lines, b))
    rows = np.concatenate([np.arange(idx.size), owner[inner], np.arange(idx.size)])
    # Order: start point, inner vertices in line order, end point.
    key = np.concatenate([np.full(idx.size, -1.0), cum[inner], np.full(idx.size, np.inf)])
    xy = np.vstack([p0, coords[inner], p1])
    order = np.lexsort((key, rows))
    made = shapely.linestrings(xy[order], indices=rows[order])
    out[idx] = made
    return out


def network_from_streets(streets: gpd.GeoDataFrame, *,
                         min_piece_m: float | None = None) -> WalkNetwork:
    """Build the walking network from street lines in a metric CRS.

    Lines must end at intersections (OSM ways split at shared nodes, as every loader in
    gis.data.sources returns them). Ends closer than 1 cm are one node.

    Parameters
    ----------
    streets
        LineStrings in a projected CRS.
    min_piece_m
        Keep every connected piece with at least this many metres of streets (an island,
        a campus behind a missing footpath, a river bank), so that its homes are analysed
        within it and reported, not dropped; smaller pieces (stray footpaths) are
        dropped and counted. The largest piece is always kept. ``None`` keeps only the
        largest piece.

    Returns
    -------
    WalkNetwork

    Examples
    --------
    >>> network = network_from_streets(to_local(study.streets, crs))  # doctest: +SKIP
    >>> network.n_pieces  # doctest: +SKIP
    """
    if streets.crs is None or not pyproj.CRS(streets.crs).is_projected:
        msg = (f"`streets` must be in a metric CRS, found {streets.crs}; project them with "
               "gis.crs.to_local(streets, area.local_crs) first.")
        raise CRSMismatchError(msg)
    geoms = np.asarray(streets.geometry.values)
    geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    geoms = geoms[shapely.get_type_id(geoms) == 1]  # LineString
    lengths = shapely.length(geoms)
    geoms, lengths = geoms[lengths > 0], lengths[lengths > 0]
    if geoms.size == 0:
        msg = "The study area has no walkable street lines; choose an area with streets."
        raise EmptyInputError(msg)
    m = geoms.size
    coords, owner = shapely.get_coordinates(geoms, return_index=True)
    stop = np.cumsum(np.bincount(owner, minlength=m))
    start = np.concatenate([[0], stop[:-1]])
    ends = np.round(np.vstack([coords[start], coords[stop - 1]]), NODE_SNAP_DECIMALS)
    node_xy, inverse = _unique_rows(ends)
    u, v = inverse[:m], inverse[m:]
    n = node_xy.shape[0]
    # Connected pieces over the undirected graph, ranked by street length.
    adj = sp.coo_matrix((np.ones(m), (u, v)), shape=(n, n)).tocsr()
    n_comp, labels = connected_components(adj, directed=False)
    comp_len = np.bincount(labels[u], weights=lengths, minlength=n_comp)
    comp_nodes = np.bincount(labels, minlength=n_comp)
    rank = np.lexsort((-comp_nodes, -comp_len))  # longest first
    keep_comp = np.zeros(n_comp, dtype=bool)
    keep_comp[rank[0]] = True
    if min_piece_m is not None:
        keep_comp |= comp_len >= min_piece_m
    piece_of_comp = np.full(n_comp, -1, dtype=np.int64)
    kept_ranked = rank[keep_comp[rank]]
    piece_of_comp[kept_ranked] = np.arange(kept_ranked.size)
    keep_node = keep_comp[labels]
    keep_edge = keep_node[u]
    new_id = np.cumsum(keep_node) - 1
    u, v = new_id[u[keep_edge]], new_id[v[keep_edge]]
    geoms, lengths = geoms[keep_edge], lengths[keep_edge]
    node_piece = piece_of_comp[labels[keep_node]]
    node_xy = node_xy[keep_node]
    n_keep = node_xy.shape[0]
    log.info("network: %d nodes, %d edges kept in %d pieces; %d nodes in %d smaller pieces "
             "dropped", n_keep, geoms.size, kept_ranked.size, n - n_keep,
             n_comp - kept_ranked.size)
    csr = _symmetric_csr(u, v, lengths, n_keep)
    return WalkNetwork(
        crs=pyproj.CRS(streets.crs), node_xy=node_xy, edge_u=u, edge_v=v,
        edge_length_m=lengths, edge_geometry=geoms,
        n_dropped_nodes=int(n - n_keep), n_dropped_edges=int(m - geoms.size),
        n_components=int(n_comp), node_piece=node_piece,
        _csr=csr, _tree=shapely.STRtree(geoms),
    )


def _unique_rows(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the unique rows of an (n, 2) array and each row's position among them.

    Same result as ``np.unique(xy, axis=0, return_inverse=True)``, several times faster
    (a lexsort of two float columns instead of a sort of void records).
    """
    order = np.lexsort((xy[:, 1], xy[:, 0]))
    sorted_xy = xy[order]
    new = np.ones(len(xy), dtype=bool)
    new[1:] = np.any(sorted_xy[1:] != sorted_xy[:-1], axis=1)
    inverse = np.empty(len(xy), dtype=np.int64)
    inverse[order] = np.cumsum(new) - 1
    return sorted_xy[new], inverse


def _symmetric_csr(u: np.ndarray, v: np.ndarray, w: np.ndarray, n: int) -> sp.csr_matrix:
    """Return the symmetric CSR adjacency, keeping the shortest of parallel edges.

    scipy would add up duplicate entries, so parallel edges are reduced here first, and
    self-loops (which never shorten a path) are left out.
    """
    rows = np.concatenate([u, v])
    cols = np.concatenate([v, u])
    data = np.concatenate([w, w])
    loop = rows == cols
    rows, cols, data = rows[~loop], cols[~loop], data[~loop]
    order = np.lexsort((data, cols, rows))
    rows, cols, data = rows[order], cols[order], data[order]
    first = np.ones(rows.size, dtype=bool)
    first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
    rows, cols, data = rows[first], cols[first], data[first]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.add.at(indptr, rows + 1, 1)
    indptr = np.cumsum(indptr)
    itype = np.int32 if rows.size < np.iinfo(np.int32).max else np.int64
    return sp.csr_matrix((data, cols.astype(itype), indptr.astype(itype)), shape=(n, n))
