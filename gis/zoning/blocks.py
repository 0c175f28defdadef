"""Street blocks: the faces the streets enclose, each home in exactly one.

Blocks are the faces enclosed by the streets (the study area's edge closes the outer
ones). Every residential building belongs to exactly one block (by its centroid), so
community and grid boundaries run along streets. A block with more households than a
grid may hold is split by its buildings (balanced groups of building centroids, each
part the union of its buildings' Voronoi cells inside the block). The blocks are then
cleaned into an exact coverage (GEOS's coverage cleaner, vertices snapped within 1 cm): no
gaps or overlaps, and every edge two blocks share has the same vertices in both. Also here:
the blocks' adjacency and shared edge lengths (read off the shared edges of an exact
coverage), zone outlines, and the compactness measure (Polsby-Popper).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from scipy.spatial import ConvexHull, QhullError

from gis._errors import EmptyInputError, InputError, Msg
from gis.cores import in_runs, on_cores
from gis.crs import require_projected
from gis.settings import GridRules
from gis.zoning.cluster import _balanced_parts

#: Two blocks are neighbours when their boundaries share at least this length, metres.
SHARED_EDGE_MIN_M = 1.0
#: Block and zone geometry is kept on a grid of this size (metres), so that blocks cut
#: from one another share their vertices exactly and unions leave no slivers.
GRID_SIZE_M = 0.01
#: Parts and holes of a zone smaller than this (m2) are slivers of floating-point noise.
SLIVER_M2 = 1.0


#: Zone outlines a :class:`Blocks` keeps (about a few plans' worth of communities and grids).
OUTLINES_KEPT = 20_000


@dataclass(frozen=True)
class Blocks:
    """Street blocks of a study area (local CRS) and their adjacency.

    Attributes
    ----------
    gdf
        One row per block: ``block_id`` (str), ``households``, ``buildings``,
        ``area_m2``, ``split_from`` (the block a part was cut from, or ""), ``street``
        (the named street longest along its edge, or ""), geometry.
    adjacency
        Symmetric boolean matrix in ``gdf`` order: True where two blocks share a street
        side.
    home_block
        Block id of every residential building, indexed like the homes.
    notes
        What was done beyond plain polygonising (splits, homes outside every block).
    exact
        True when the blocks form an exact coverage (:func:`exact_coverage`): zones are
        then outlined by dropping shared edges, with no overlay.
    """

    gdf: gpd.GeoDataFrame
    adjacency: sp.csr_matrix
    home_block: pd.Series
    notes: tuple[str, ...] = ()
    exact: bool = False
    #: Zone outlines by their blocks (see :meth:`zone_outline`); shared by every plan on
    #: these blocks, so an edit unions again only the zones it changed.
    _outlines: dict[bytes, shapely.Geometry] = field(default_factory=dict, init=False,
                                                     repr=False, compare=False)

    def zone_outline(self, members: np.ndarray) -> shapely.Geometry:
        """Return the outline of the zone made of the blocks at ``members`` (cached).

        Parameters
        ----------
        members
            Block positions, in increasing order.

        Returns
        -------
        shapely.Geometry
            :func:`clean_zone` of those blocks.
        """
        key = np.asarray(members, dtype=np.int64).tobytes()
        geom = self._outlines.get(key)
        if geom is None:
            if len(self._outlines) >= OUTLINES_KEPT:
                self._outlines.clear()
            geom = clean_zone(self._geoms[members], exact=self.exact)
            self._outlines[key] = geom
        return geom

    @cached_property
    def _geoms(self) -> np.ndarray:
        """The block polygons as an array (read once, not per zone)."""
        return np.asarray(self.gdf.geometry.values)

    @property
    def ids(self) -> np.ndarray:
        """Return the block ids in order."""
        return np.asarray(self.gdf["block_id"].to_numpy())

    def neighbours(self, i: int) -> np.ndarray:
        """Return the positions of the blocks adjacent to block position ``i``.

        Parameters
        ----------
        i
            A block's position.

        Returns
        -------
        numpy.ndarray
            Positions of the blocks sharing an edge with it.
        """
        a = self.adjacency
        return np.asarray(a.indices[a.indptr[i]:a.indptr[i + 1]])


def make_blocks(streets: gpd.GeoDataFrame, homes: gpd.GeoDataFrame, rules: GridRules, *,
                area: shapely.Geometry | None = None) -> Blocks:
    """Cut street blocks and assign every home to one.

    Parameters
    ----------
    streets
        Street lines in a metric CRS with a ``highway`` column (all lines are used when
        it is missing).
    homes
        Residential buildings with ``households``, same CRS.
    rules
        Grid rules: which highways bound blocks, the sliver size, the grid maximum.
    area
        The study area polygon (default: convex hull of streets and homes, 20 m wider).

    Returns
    -------
    Blocks

    Examples
    --------
    >>> blocks = make_blocks(study.streets, study.homes, settings.grids)  # doctest: +SKIP
    >>> blocks.gdf[["block_id", "households"]].head()  # doctest: +SKIP
    """
    check_rules(rules)
    require_projected(("streets", streets), ("homes", homes))
    lines = streets
    if "highway" in streets and rules.block_highways:
        lines = streets[streets["highway"].isin(rules.block_highways)]
    if len(lines) == 0:
        msg = ("The study area has no streets of the kinds that bound blocks "
               f"({', '.join(sorted(rules.block_highways))}); no street blocks can be made.")
        raise EmptyInputError(msg, key="no_block_streets")
    if area is None:
        coords = np.vstack([shapely.get_coordinates(np.asarray(lines.geometry.values)),
                            shapely.get_coordinates(np.asarray(homes.geometry.values))])
        area = _hull(coords).buffer(20.0)
    edge = shapely.get_exterior_ring(area) if area.geom_type == "Polygon" else area.boundary
    # The union of lines is noded at every crossing (GEOS nodes and dissolves linework
    # in a union), so it goes to polygonize as it is: shapely.node after it found the
    # same 71,269 lines on Porto, in another 0.3 s.
    noded = shapely.union_all([*_chained(np.asarray(lines.geometry.values)), edge])
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    faces = shapely.get_parts(in_runs(
        lambda f: shapely.intersection(f, area, grid_size=GRID_SIZE_M), faces))
    faces = faces[shapely.get_type_id(faces) == 3]  # polygons only
    faces = faces[shapely.area(faces) >= rules.min_block_m2]
    faces = _follow_inner_streets(faces, streets, homes, rules)
    if faces.size == 0:
        msg = ("The streets enclose no street blocks (no closed faces larger than "
               f"{rules.min_block_m2:.0f} m2); load an area with a connected street grid.")
        raise EmptyInputError(msg, key="no_blocks")
    blocks = gpd.GeoDataFrame({"block_id": [f"B{i + 1}" for i in range(faces.size)]},
                              geometry=faces, crs=streets.crs)
    notes: list[str] = []
    home_block = _assign_homes(blocks, homes, notes)
    blocks, home_block = _split_large(blocks, homes, home_block, rules, notes)
    hh = homes["households"].groupby(home_block).sum()
    n_b = homes["households"].groupby(home_block).size()
    blocks["households"] = blocks["block_id"].map(hh).fillna(0).astype(np.int64).to_numpy()
    blocks["buildings"] = blocks["block_id"].map(n_b).fillna(0).astype(np.int64).to_numpy()
    # Naming the blocks by their streets and cleaning them into a coverage read the same
    # blocks and are independent: one core each (GEOS runs without Python's lock).
    with ThreadPoolExecutor(max_workers=2) as pool:
        names = pool.submit(block_streets, blocks, streets)
        geoms, exact = exact_coverage(np.asarray(blocks.geometry.values))
        blocks["street"] = names.result()
    blocks = blocks.set_geometry(geoms, crs=streets.crs)
    blocks["area_m2"] = shapely.area(geoms)
    return Blocks(blocks, block_adjacency(blocks, exact=exact), home_block, tuple(notes),
                  exact=exact)


def _hull(coords: np.ndarray) -> shapely.Geometry:
    """Return the convex hull of the points, as GEOS draws it.

    GEOS's hull of qhull's hull vertices: the same polygon as GEOS's hull of every point,
    without first making one geometry of them all (Porto's 608,000 points: 0.43 -> 0.06 s).
    Points all on one line (qhull refuses them) go to GEOS whole.
    """
    try:
        coords = coords[ConvexHull(coords).vertices]
    except (QhullError, ValueError):
        pass
    return shapely.convex_hull(shapely.multipoints(coords))


def _chained(lines: np.ndarray) -> np.ndarray:
    """Return the lines with each run of rows that continue one another as one line.

    Streets come cut at every vertex (a way of n vertices is n - 1 rows, in order); the
    same lines as fewer, longer ones make GEOS's noding union several times faster
    (Porto's 254,000 block-street segments: 1.8 s -> 0.7 s) and cover the same points.
    """
    lines = shapely.get_parts(lines)
    lines = lines[(shapely.get_type_id(lines) == 1) & ~shapely.is_empty(lines)]
    if lines.size < 2:
        return lines
    coords, of = shapely.get_coordinates(lines, return_index=True)
    n_pts = np.bincount(of, minlength=lines.size)
    first = np.cumsum(n_pts) - n_pts
    last = first + n_pts - 1
    goes_on = np.zeros(lines.size, dtype=bool)
    goes_on[1:] = np.all(coords[first[1:]] == coords[last[:-1]], axis=1)
    run = np.cumsum(~goes_on) - 1
    keep = np.ones(coords.shape[0], dtype=bool)
    keep[first[goes_on]] = False  # the shared point, once
    chained: np.ndarray = shapely.linestrings(coords[keep], indices=run[of[keep]])
    return chained


def exact_coverage(geoms: np.ndarray) -> tuple[np.ndarray, bool]:
    """Return the blocks as an exact coverage, and whether that succeeded.

    Blocks cut by different means (faces of the streets, parts along inner streets,
    Voronoi parts of a large block) meet with gaps and overlaps of floating-point size and
    with vertices on one side of a shared edge only. GEOS's coverage cleaner snaps
    vertices within ``GRID_SIZE_M`` together and gives every gap or overlap to a
    neighbour, so shared edges become identical in both blocks. When the cleaner returns
    anything but one valid polygon per block forming a valid coverage, the blocks are
    returned as they were (False).

    Parameters
    ----------
    geoms
        Block polygons (metric CRS).

    Returns
    -------
    tuple of numpy.ndarray and bool
        The cleaned polygons (or the input) and whether they form an exact coverage.

    Examples
    --------
    >>> import shapely
    >>> geoms, exact = exact_coverage(np.array([shapely.box(0, 0, 1, 1),
    ...                                         shapely.box(0.999, 0, 2, 1)]))
    >>> exact, [round(g.area, 3) for g in geoms]
    (True, [1.0, 1.0])
    """
    if geoms.size == 0:
        return geoms, True
    try:
        cleaned = shapely.coverage_clean(geoms, snapping_distance=GRID_SIZE_M)
    except shapely.errors.GEOSException:
        return geoms, False
    ok = ((shapely.get_type_id(cleaned) == 3) & ~shapely.is_empty(cleaned)
          & shapely.is_valid(cleaned))
    if not ok.all() or not shapely.coverage_is_valid(cleaned):
        return geoms, False
    return cleaned, True


def block_streets(blocks: gpd.GeoDataFrame, streets: gpd.GeoDataFrame,
                  reach_m: float = 5.0) -> np.ndarray:
    """Return, per block, the name of the named street running longest along its edge.

    A street counts along the length of it within ``reach_m`` of the block's outline
    (measured on pieces of at most ``reach_m``, found by one spatial-index query).
    Blocks without a named street around them get "".

    Parameters
    ----------
    blocks
        Blocks (metric CRS).
    streets
        Streets with ``name``.
    reach_m
        How far from a block's outline a street counts as running along it.

    Returns
    -------
    numpy.ndarray
        The name of each block's longest adjacent street (``""``: none).
    """
    out = np.full(len(blocks), "", dtype=object)
    if "name" not in streets.columns or not len(blocks):
        return out
    named = streets[streets["name"].notna()]
    named = named[named["name"].astype(str).str.strip() != ""]
    if not len(named):
        return out
    # The streets in pieces of at most ``reach_m``: a piece counts for a block when its
    # midpoint lies within ``reach_m`` of the block's outline (one spatial-index query;
    # no buffer or intersection of outlines: 4.0 s -> 1.5 s on Malta's 7,702 blocks).
    lines, part_of = shapely.get_parts(np.asarray(named.geometry.values), return_index=True)
    names = named["name"].astype(str).str.strip().to_numpy()[part_of]
    # A way of zero length (Porto's extract holds two: both nodes at one place) has
    # nothing to count, and GEOS cannot cut it.
    usable = (shapely.get_type_id(lines) == 1) & (shapely.length(lines) > 0)
    lines, names = lines[usable], names[usable]
    lines = shapely.segmentize(lines, reach_m)
    coords, line_of = shapely.get_coordinates(lines, return_index=True)
    same = line_of[1:] == line_of[:-1]
    start, end = coords[:-1][same], coords[1:][same]
    seg_line = line_of[:-1][same]
    seg_len = np.hypot(*(end - start).T)
    mids = shapely.points((start + end) / 2)
    # The blocks' outlines in two-point segments: a point's distance to one is a single
    # step, where to a whole outline it walks every vertex (0.96 -> 0.49 s on Malta).
    start_e, end_e, edge_block = _outline_segments(np.asarray(blocks.geometry.values))
    edges = shapely.linestrings(np.stack([start_e, end_e], axis=1))
    s_idx, e_idx = shapely.STRtree(edges).query(mids, predicate="dwithin", distance=reach_m)
    if not e_idx.size:
        return out
    # A piece counts once per block, however many of the block's edges are near it.
    pair = pd.unique(s_idx.astype(np.int64) * len(blocks) + edge_block[e_idx])
    s_idx, b_idx = pair // len(blocks), pair % len(blocks)
    pairs = pd.DataFrame({"block": b_idx, "name": names[seg_line[s_idx]],
                          "length": seg_len[s_idx]})
    along = pairs.groupby(["block", "name"], sort=False)["length"].sum().reset_index()
    best = along.sort_values(["block", "length", "name"], ascending=[True, False, True]) \
        .drop_duplicates("block")
    out[best["block"].to_numpy()] = best["name"].to_numpy()
    return out


def _follow_inner_streets(faces: np.ndarray, streets: gpd.GeoDataFrame,
                          homes: gpd.GeoDataFrame, rules: GridRules) -> np.ndarray:
    """Cut large blocks along the lesser streets inside them (service roads, footways).

    A campus or a large compound is often one face of the block-forming streets with only
    service roads and paths inside. A face larger than ``rules.subdivide_block_m2`` or
    holding more households than one grid may is cut by the other walkable lines inside
    it, so its parts follow those streets; parts smaller than ``rules.min_block_m2`` are
    given back to their largest neighbour. Faces without such lines are kept whole.
    """
    if "highway" not in streets or not rules.block_highways or faces.size == 0:
        return faces
    inner = streets[~streets["highway"].isin(rules.block_highways)]
    if len(inner) == 0:
        return faces
    cent = shapely.centroid(np.asarray(homes.geometry.values))
    hh = homes["households"].to_numpy(dtype=float)
    # The faces are queried against a tree of the points, so GEOS prepares each face once
    # (a tree of faces tests every point against an unprepared face: 4.1 s -> 0.1 s on
    # Porto's 100,000 homes).
    hit_f, hit_h = shapely.STRtree(cent).query(faces, predicate="contains")
    face_hh = np.bincount(hit_f, weights=hh[hit_h], minlength=faces.size)
    big = np.flatnonzero((shapely.area(faces) > rules.subdivide_block_m2)
                         | (face_hh > rules.max_households))
    if big.size == 0:
        return faces
    lines = np.asarray(inner.geometry.values)
    ltree = shapely.STRtree(lines)

    def cut(face: shapely.Geometry) -> np.ndarray | None:
        near = ltree.query(face, predicate="intersects")
        if near.size == 0:
            return None
        # Node the inner lines with the face's edge (their union) and polygonize: every
        # polygon is inside the face or outside it (the edge is among the lines), so a
        # point test keeps the inside ones, with no costly clipping of lines or polygons.
        noded = shapely.union_all([*lines[near], shapely.boundary(face)])
        parts = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
        shapely.prepare(face)
        parts = parts[shapely.contains(face, shapely.point_on_surface(parts))
                      & (shapely.area(parts) > 0)]
        parts = shapely.set_precision(parts, GRID_SIZE_M)
        parts = parts[(shapely.get_type_id(parts) == 3) & ~shapely.is_empty(parts)]
        if parts.size < 2:
            return None
        parts = _merge_small(parts, rules.min_block_m2)
        return parts if parts.size >= 2 else None

    # Each face is cut alone, so the faces share the cores (GEOS runs without Python's
    # lock) and come back in order: the same blocks as one after another.
    cuts = on_cores(cut, faces[big], cost=shapely.get_num_coordinates(faces[big]))
    keep = np.ones(faces.size, dtype=bool)
    keep[big[[c is not None for c in cuts]]] = False
    out = [c for c in cuts if c is not None]
    return np.concatenate([faces[keep], *out]) if out else faces


def _merge_small(parts: np.ndarray, min_m2: float) -> np.ndarray:
    """Give every part smaller than ``min_m2`` to the neighbour it shares most edge with."""
    pieces = list(parts)
    alive = np.ones(len(pieces), dtype=bool)
    tree = shapely.STRtree(np.asarray(pieces, dtype=object))
    area = shapely.area(np.asarray(pieces, dtype=object))
    for i in np.argsort(area):
        if area[i] >= min_m2 or alive.sum() <= 1:
            break
        near = tree.query(pieces[i], predicate="intersects")
        # A merged part lives on under the index of the part it was merged into.
        near = near[(near != i) & alive[near]]
        if near.size == 0:
            continue  # an island part: keep as it is
        shared = shapely.length(shapely.intersection(
            shapely.boundary(pieces[i]), shapely.boundary(np.asarray(pieces, dtype=object)[near])))
        if shared.max() <= 0:
            continue
        j = int(near[np.argmax(shared)])
        merged = _join(pieces[i], pieces[j])
        if shapely.get_type_id(merged) != 3:
            continue
        pieces[j] = merged
        area[j] = shapely.area(merged)
        alive[i] = False
    return np.asarray([p for p, a in zip(pieces, alive, strict=True) if a], dtype=object)


def _join(a: shapely.Geometry, b: shapely.Geometry) -> shapely.Geometry:
    """Return the union of two neighbouring parts of one face.

    Parts cut from one face on the same grid share their edges exactly, so GEOS's
    coverage union joins them by dropping the shared edges (on Malta, the same parts as
    the overlay on a 1 cm grid, vertex for vertex, in a fifth of the time); parts whose
    edges do not meet that way (GEOS refuses them) go through the overlay.
    """
    try:
        return shapely.coverage_union(a, b)
    except shapely.errors.GEOSException:
        return shapely.union(a, b, grid_size=GRID_SIZE_M)


def _assign_homes(blocks: gpd.GeoDataFrame, homes: gpd.GeoDataFrame,
                  notes: list[str]) -> pd.Series:
    cent = gpd.GeoDataFrame(geometry=homes.geometry.centroid.to_numpy(), index=homes.index,
                            crs=homes.crs)
    joined = gpd.sjoin(cent, blocks[["block_id", "geometry"]], predicate="within", how="left")
    joined = joined[~joined.index.duplicated(keep="first")]
    out = joined["block_id"]
    missing = out.isna()
    if missing.any():
        near = gpd.sjoin_nearest(cent[missing.to_numpy()], blocks[["block_id", "geometry"]])
        near = near[~near.index.duplicated(keep="first")]
        out.loc[near.index] = near["block_id"]
        notes.append(Msg(f"{int(missing.sum())} homes whose centroid lies on a street or "
                         "outside every block were given to the nearest block",
                         "note_nearest_block", n=int(missing.sum())))
    return out.astype(str)


def _split_large(blocks: gpd.GeoDataFrame, homes: gpd.GeoDataFrame, home_block: pd.Series,
                 rules: GridRules, notes: list[str]) -> tuple[gpd.GeoDataFrame, pd.Series]:
    """Split blocks holding more than a grid's maximum into parts by their buildings."""
    hh = homes["households"].groupby(home_block).sum()
    big = hh[hh > rules.max_households]
    blocks = blocks.assign(split_from="")
    if big.empty:
        return blocks, home_block
    rows = [blocks[~blocks["block_id"].isin(big.index)]]
    new_parts: list[tuple[str, str, shapely.Geometry]] = []
    # The homes of each big block, by position, found once (not one scan of every home
    # per block), and their new parts set in one assignment at the end.
    of_block = pd.Series(np.arange(len(home_block))).groupby(
        home_block.to_numpy()).indices
    block_geom = dict(zip(blocks["block_id"], blocks.geometry.to_numpy(), strict=True))
    new_block = home_block.to_numpy().copy()
    at = homes.index.get_indexer(home_block.index)

    def split(bid: str) -> tuple[pd.DataFrame, list[tuple[shapely.Geometry, np.ndarray]]]:
        block_geometry = block_geom[bid]
        mine = homes.iloc[at[of_block[bid]]]
        if len(mine) < 2:
            return mine, []
        parts = min(int(np.ceil(big[bid] / rules.target_households)), len(mine))
        xy = np.column_stack([mine.geometry.centroid.x, mine.geometry.centroid.y])
        labels = _balanced_parts(xy, mine["households"].to_numpy(dtype=float), parts)
        cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(xy),
                                                           extend_to=block_geometry))
        cell_label = np.full(cells.size, -1)
        tree = shapely.STRtree(cells)
        hit = tree.query(shapely.points(xy), predicate="within")
        cell_label[hit[1]] = labels[hit[0]]
        return mine, _connected_pieces(
            [_inside(shapely.union_all(cells[cell_label == k]), block_geometry)
             for k in range(parts)], shapely.points(xy))

    # Each block is split alone, so the blocks share the cores (the unions and cuts are
    # GEOS, which runs without Python's lock); the parts are named in order afterwards.
    splits = on_cores(split, big.index, cost=big.to_numpy())
    for (bid, total), (mine, pieces) in zip(big.items(), splits, strict=True):
        if len(mine) < 2:
            notes.append(Msg(f"block {bid} ({int(total)} households) is one building and "
                             "cannot be split; its grid will exceed the maximum",
                             "note_one_building", block=bid, n=int(total)))
            rows.append(blocks[blocks["block_id"] == bid])
            continue
        part_hh = []
        for n_part, (geom, members) in enumerate(pieces):
            pid = f"{bid}-{n_part + 1}"
            new_parts.append((pid, bid, geom))
            new_block[of_block[bid][members]] = pid
            part_hh.append(int(mine["households"].to_numpy()[members].sum()))
        sizes = ", ".join(str(v) for v in part_hh)
        notes.append(Msg(f"block {bid} ({int(total)} households) was split into "
                         f"{len(pieces)} parts of {sizes} households: its buildings were cut "
                         "into groups of equal households along the block's longer axis, each "
                         "part the Voronoi cells of its buildings' centroids inside the block",
                         "note_split", block=bid, n=int(total), parts=len(pieces),
                         sizes=sizes))
    if new_parts:
        rows.append(gpd.GeoDataFrame({"block_id": [p[0] for p in new_parts],
                                      "split_from": [p[1] for p in new_parts]},
                                     geometry=[p[2] for p in new_parts], crs=blocks.crs))
    out = gpd.GeoDataFrame(pd.concat(rows, ignore_index=True), crs=blocks.crs)
    return out, pd.Series(new_block, index=home_block.index, name=home_block.name)


def _inside(group: shapely.Geometry, block: shapely.Geometry) -> shapely.Geometry:
    """Return the part of a group of Voronoi cells inside the block, on the 1 cm grid.

    The block is first cut to the group's bounding box (a linear pass), so the overlay
    does not walk the whole of a large block once per group: Malta's largest block, of
    15,000 vertices, was cut into 8 groups; 0.67 -> 0.17 s for all splits, the same parts.
    """
    near = block
    if not shapely.is_empty(group):
        box = shapely.clip_by_rect(block, *shapely.bounds(group))
        if shapely.is_valid(box):
            near = box
    return shapely.set_precision(shapely.intersection(group, near), GRID_SIZE_M)


def _connected_pieces(groups: list[shapely.Geometry], pts: np.ndarray
                      ) -> list[tuple[shapely.Geometry, np.ndarray]]:
    """Return one-piece polygons from the parts of a split block, with their buildings.

    The Voronoi cells of one group of buildings, cut by a block that is not convex, can
    fall apart into pieces; a grid made of such a "block" would be in pieces too. Every
    piece becomes a block part of its own; a piece holding no building joins the
    neighbouring piece it shares most edge with (or is dropped when it touches none).
    """
    polys = [p for g in groups for p in shapely.get_parts(g)
             if shapely.get_type_id(p) == 3 and shapely.area(p) > 0]
    if not polys:
        return []
    polys_a = np.asarray(polys, dtype=object)
    hit_p, hit_g = shapely.STRtree(polys_a).query(pts, predicate="intersects")
    owner = np.full(len(pts), -1, dtype=np.int64)
    owner[hit_p[::-1]] = hit_g[::-1]  # a point on a shared edge goes to its first piece
    # Points on no piece (numerical edge cases) go to the nearest piece.
    lost = np.flatnonzero(owner < 0)
    if lost.size:
        owner[lost] = shapely.STRtree(polys_a).query_nearest(pts[lost], all_matches=False)[1]
    with_homes = np.bincount(owner, minlength=len(polys)) > 0
    geoms = list(polys_a)
    for i in np.flatnonzero(~with_homes):
        cand = np.flatnonzero(with_homes)
        shared = shapely.length(shapely.intersection(shapely.boundary(geoms[i]),
                                                     shapely.boundary(polys_a[cand])))
        if shared.size and shared.max() >= SHARED_EDGE_MIN_M:
            j = int(cand[np.argmax(shared)])
            merged = shapely.union(geoms[j], geoms[i], grid_size=GRID_SIZE_M)
            if shapely.get_type_id(merged) == 3:
                geoms[j] = merged
    return [(geoms[i], np.flatnonzero(owner == i)) for i in np.flatnonzero(with_homes)]


def block_adjacency(blocks: gpd.GeoDataFrame, *, exact: bool = False) -> sp.csr_matrix:
    """Return the matrix of blocks that share a boundary of at least 1 m.

    Parameters
    ----------
    blocks
        Blocks (metric CRS).
    exact
        The blocks form an exact coverage (:func:`exact_coverage`): shared edges are
        read off the blocks' outlines, with no overlay.

    Returns
    -------
    scipy.sparse.csr_matrix
        Symmetric; True where two blocks share an edge.
    """
    geoms = np.asarray(blocks.geometry.values)
    if exact:
        shared = _shared_edges(geoms)
        return (shared >= SHARED_EDGE_MIN_M).astype(bool).tocsr()
    tree = shapely.STRtree(geoms)
    i, j = tree.query(geoms, predicate="intersects")
    keep = i < j
    i, j = i[keep], j[keep]
    shared = shapely.length(shapely.intersection(shapely.boundary(geoms[i]),
                                                 shapely.boundary(geoms[j])))
    ok = shared >= SHARED_EDGE_MIN_M
    i, j = i[ok], j[ok]
    n = geoms.size
    return sp.csr_matrix((np.ones(2 * i.size, dtype=bool),
                          (np.concatenate([i, j]), np.concatenate([j, i]))), shape=(n, n))


def shared_lengths(geoms: np.ndarray, adjacency: sp.csr_matrix, *,
                   exact: bool = False) -> sp.csr_matrix:
    """Return the length of boundary each pair of adjacent blocks shares (symmetric).

    Parameters
    ----------
    geoms
        Block polygons.
    adjacency
        Their adjacency.
    exact
        The blocks form an exact coverage: the lengths are read off their outlines.

    Returns
    -------
    scipy.sparse.csr_matrix
        Metres of edge shared by each adjacent pair.
    """
    if exact:
        shared = _shared_edges(geoms)
        return shared.multiply(adjacency.astype(bool)).tocsr()
    coo = sp.triu(adjacency, k=1).tocoo()
    i, j = coo.row, coo.col
    length = shapely.length(shapely.intersection(shapely.boundary(geoms[i]),
                                                 shapely.boundary(geoms[j])))
    n = geoms.size
    return sp.csr_matrix((np.concatenate([length, length]),
                          (np.concatenate([i, j]), np.concatenate([j, i]))), shape=(n, n))


def _outline_segments(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the start, the end (n x 2 each) and the polygon of every outline segment."""
    rings, ring_of = shapely.get_rings(geoms, return_index=True)
    coords, vertex_of = shapely.get_coordinates(rings, return_index=True)
    same = vertex_of[1:] == vertex_of[:-1]
    return coords[:-1][same], coords[1:][same], ring_of[vertex_of[:-1][same]]


def _shared_edges(geoms: np.ndarray) -> sp.csr_matrix:
    """Return the metres of outline each pair of polygons of an exact coverage shares.

    In an exact coverage a shared edge has the same vertices in both polygons, so every
    segment of it occurs twice among all the outlines' segments: the segments are sorted
    by their end points and equal neighbours in that order are summed per pair.
    """
    a, b, owner = _outline_segments(geoms)
    flip = (a[:, 0] > b[:, 0]) | ((a[:, 0] == b[:, 0]) & (a[:, 1] > b[:, 1]))
    lo, hi = np.where(flip[:, None], b, a), np.where(flip[:, None], a, b)
    order = np.lexsort((hi[:, 1], hi[:, 0], lo[:, 1], lo[:, 0]))
    lo, hi, owner = lo[order], hi[order], owner[order]
    twin = (lo[1:] == lo[:-1]).all(axis=1) & (hi[1:] == hi[:-1]).all(axis=1)
    i, j = owner[:-1][twin], owner[1:][twin]
    length = np.hypot(*(hi[:-1][twin] - lo[:-1][twin]).T)
    keep = i != j
    i, j, length = i[keep], j[keep], length[keep]
    n = geoms.size
    out = sp.coo_matrix((np.concatenate([length, length]),
                         (np.concatenate([i, j]), np.concatenate([j, i]))), shape=(n, n))
    return out.tocsr()  # duplicates (one pair, many segments) are summed


def clean_zone(blocks: np.ndarray, *, exact: bool = False) -> shapely.Geometry:
    """Return the union of a zone's blocks without slivers, valid in any CRS.

    Blocks of an exact coverage are joined by GEOS's coverage union (their shared edges
    dropped). Other blocks are unioned on a 1 cm grid. Parts and holes under
    ``SLIVER_M2`` (gaps of floating-point noise where blocks cut from one another meet)
    are removed, so the outline stays a valid polygon after reprojection to WGS-84.

    Parameters
    ----------
    blocks
        Polygons of one zone's blocks.
    exact
        The blocks are part of an exact coverage (:func:`exact_coverage`).

    Returns
    -------
    shapely.Geometry
        Their union, without slivers and pinholes.
    """
    geom = (shapely.coverage_union_all(blocks) if exact
            else shapely.union_all(blocks, grid_size=GRID_SIZE_M))
    if (shapely.get_type_id(geom) == 3 and shapely.get_num_interior_rings(geom) == 0
            and shapely.area(geom) >= SLIVER_M2):
        # One polygon without holes (most zones): nothing to drop.
        return geom if shapely.is_valid(geom) else shapely.make_valid(geom)
    parts = [p for p in shapely.get_parts(geom) if shapely.get_type_id(p) == 3
             and shapely.area(p) >= SLIVER_M2]
    cleaned = []
    for p in parts:
        holes = [r for r in p.interiors if shapely.area(shapely.Polygon(r)) >= SLIVER_M2]
        cleaned.append(shapely.Polygon(shapely.get_exterior_ring(p), holes))
    if not cleaned:
        return geom
    out = cleaned[0] if len(cleaned) == 1 else shapely.MultiPolygon(cleaned)
    return out if shapely.is_valid(out) else shapely.make_valid(out)


def polsby_popper(geom: shapely.Geometry) -> float:
    """Return 4 pi A / P^2: 1 for a disc, near 0 for a thin or ragged shape.

    Parameters
    ----------
    geom
        A polygon.

    Returns
    -------
    float
        4 pi area / perimeter squared: 1 for a circle, near 0 for a strip.
    """
    perimeter = shapely.length(geom)
    return float(4 * np.pi * shapely.area(geom) / perimeter ** 2) if perimeter > 0 else 0.0


def check_rules(rules: GridRules) -> None:
    """Refuse grid sizes that cannot work (zero, a range without the target, ...).

    Parameters
    ----------
    rules
        Grid rules.
    """
    problems = []
    if rules.target_households <= 0:
        problems.append(f"target {rules.target_households} must be positive")
    if not 0 < rules.min_households <= rules.target_households <= rules.max_households:
        problems.append(f"the range must hold the target: min {rules.min_households} <= "
                        f"target {rules.target_households} <= max {rules.max_households}")
    if rules.community_target_households < rules.target_households:
        problems.append(f"community target {rules.community_target_households} is smaller "
                        f"than one grid ({rules.target_households})")
    if problems:
        msg = "Grid sizes: " + "; ".join(problems) + "."
        raise InputError(msg, key="bad_grid_sizes", target=rules.target_households,
                         lo=rules.min_households, hi=rules.max_households,
                         community=rules.community_target_households)
