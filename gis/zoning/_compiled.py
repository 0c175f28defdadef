"""The partition's inner loops, compiled with numba (millions of tiny steps per city).

Plain functions over arrays: the growth of regions from their seeds, the moves of
:func:`gis.zoning.partition._refine` and the connectivity check behind every move, and
the k-means steps that place the seeds (:func:`gis.zoning.cluster._kmeans`). Compiled
once per machine (``cache=True`` keeps the machine code beside this file), they run the
same steps as the Python and numpy loops did.
"""

from __future__ import annotations

import numpy as np

from gis.network import _compiled as network_compiled
from gis.network._compiled import jit


@jit
def _cost(s: float, a: float, mx: float, my: float, mxx: float, target: float,
          lower: float, upper: float, compactness_weight: float) -> float:
    if a <= 1e-9:  # an emptied region disappears: a grid fewer costs nothing
        return 0.0
    dev = (s - target) / target
    out = max(0.0, lower - s) + max(0.0, s - upper)
    balance = dev * dev + 10.0 * (out / target) ** 2
    second = mxx - (mx * mx + my * my) / a  # moment about the region's centroid
    return balance + compactness_weight * (second / (a * a / (2 * np.pi)) - 1.0)


@jit
def pieces_of(indptr: np.ndarray, indices: np.ndarray, nodes: np.ndarray, tag: np.ndarray,
              value: int, comp: np.ndarray, queue: np.ndarray) -> int:
    """Label the connected pieces of the nodes tagged ``value``; return how many.

    Parameters
    ----------
    indptr, indices
        The graph's adjacency (CSR).
    nodes
        Every node tagged ``value``.
    tag
        A tag per node of the graph; the search stays on nodes tagged ``value``.
    value
        The tag of the set.
    comp
        Scratch of the graph's size: ``comp[v]`` is set to the piece of each of ``nodes``.
    queue
        Scratch space of the graph's size.

    Returns
    -------
    int
        The number of pieces.
    """
    for v in nodes:
        comp[v] = -1
    count = 0
    for start in nodes:
        if comp[start] >= 0:
            continue
        comp[start] = count
        head, tail = 0, 1
        queue[0] = start
        while head < tail:
            u = queue[head]
            head += 1
            for k in range(indptr[u], indptr[u + 1]):
                v = indices[k]
                if tag[v] == value and comp[v] < 0:
                    comp[v] = count
                    queue[tail] = v
                    tail += 1
        count += 1
    return count


@jit
def stays_connected(labels: np.ndarray, indptr: np.ndarray, indices: np.ndarray,
                    region: int, removed: int, seen: np.ndarray, wanted: np.ndarray,
                    stamp: int, queue: np.ndarray) -> bool:
    """Return True when ``region`` (connected) minus node ``removed`` is still connected.

    It is exactly when the removed node's neighbours in the region still reach one
    another without it, so the search stops as soon as they are all found. ``seen``
    and ``wanted`` are scratch arrays marked with ``stamp`` (a new value per call);
    ``queue`` is scratch space of the graph's size.

    Parameters
    ----------
    labels
        Region of every node (-1: in none).
    indptr, indices
        The graph's adjacency (CSR).
    region
        The region, connected before the move.
    removed
        The node leaving it.
    seen, wanted, queue
        Scratch arrays of the graph's size.
    stamp
        A value not yet used in ``seen`` and ``wanted``.

    Returns
    -------
    bool
        True when what is left of the region is one piece (False when nothing is left).
    """
    remaining = 0
    start = -1
    for k in range(indptr[removed], indptr[removed + 1]):
        v = indices[k]
        if v != removed and labels[v] == region and wanted[v] != stamp:
            wanted[v] = stamp
            remaining += 1
            start = v
    if remaining == 0:
        members = 0
        for v in range(labels.size):
            if labels[v] == region:
                members += 1
        return members - 1 > 0
    seen[start] = stamp
    remaining -= 1
    head, tail = 0, 0
    queue[tail] = start
    tail += 1
    while head < tail and remaining > 0:
        u = queue[head]
        head += 1
        for k in range(indptr[u], indptr[u + 1]):
            v = indices[k]
            if v != removed and seen[v] != stamp and labels[v] == region:
                seen[v] = stamp
                if wanted[v] == stamp:
                    remaining -= 1
                queue[tail] = v
                tail += 1
    return remaining == 0


@jit
def refine_moves(labels: np.ndarray, indptr: np.ndarray, indices: np.ndarray,
                 order: np.ndarray, hh: np.ndarray, area: np.ndarray, px: np.ndarray,
                 py: np.ndarray, pxx: np.ndarray, size: np.ndarray, a_sum: np.ndarray,
                 m_x: np.ndarray, m_y: np.ndarray, m_xx: np.ndarray, count: np.ndarray,
                 target: float, lower: float, upper: float, compactness_weight: float,
                 max_sweeps: int, allow_empty: bool) -> None:
    """Move boundary nodes between regions while the objective falls (in place).

    Every sweep visits the nodes in ``order``; a node moves to the neighbouring region
    that lowers the balance + inertia objective most, when its own region stays
    connected (and keeps at least one node, unless ``allow_empty`` and it is below
    ``lower``). The region sums (``size`` ... ``count``) follow every move.

    Parameters
    ----------
    labels
        Region of every node (-1: in none); changed in place.
    indptr, indices
        The adjacency of the nodes (CSR).
    order
        The order nodes are visited in each sweep.
    hh, area, px, py, pxx
        Per node: households, area, area x centroid x, area x centroid y and area x
        squared distance of the centroid from the origin.
    size, a_sum, m_x, m_y, m_xx, count
        The same per region, and its node count; kept up to date in place.
    target, lower, upper
        Households a region should hold, and the allowed range.
    compactness_weight
        Weight of the inertia term.
    max_sweeps
        Sweeps at most (fewer when a sweep moves nothing).
    allow_empty
        A region below ``lower`` may give away its last node.
    """
    n = labels.size
    seen = np.zeros(n, dtype=np.int64)
    wanted = np.zeros(n, dtype=np.int64)
    queue = np.empty(n, dtype=np.int64)
    cands = np.empty(max(1, int(np.max(indptr[1:] - indptr[:-1])) if n else 1),
                     dtype=np.int64)
    stamp = 0
    for _sweep in range(max_sweeps):
        moved = False
        for i in order:
            a_lab = labels[i]
            if a_lab < 0:
                continue
            n_c = 0
            for k in range(indptr[i], indptr[i + 1]):
                b = labels[indices[k]]
                if b < 0 or b == a_lab:
                    continue
                dup = False
                for q in range(n_c):
                    if cands[q] == b:
                        dup = True
                        break
                if not dup:
                    cands[n_c] = b
                    n_c += 1
            if n_c == 0:
                continue
            last = count[a_lab] <= 1
            if last and not (allow_empty and size[a_lab] < lower):
                continue
            cands[:n_c].sort()
            h, ar, x, y, xx = hh[i], area[i], px[i], py[i], pxx[i]
            old_a = _cost(size[a_lab], a_sum[a_lab], m_x[a_lab], m_y[a_lab], m_xx[a_lab],
                          target, lower, upper, compactness_weight)
            new_a = _cost(size[a_lab] - h, a_sum[a_lab] - ar, m_x[a_lab] - x,
                          m_y[a_lab] - y, m_xx[a_lab] - xx, target, lower, upper,
                          compactness_weight)
            best = -1
            best_gain = -1e-12
            for q in range(n_c):
                b = cands[q]
                old_b = _cost(size[b], a_sum[b], m_x[b], m_y[b], m_xx[b], target, lower,
                              upper, compactness_weight)
                new_b = _cost(size[b] + h, a_sum[b] + ar, m_x[b] + x, m_y[b] + y,
                              m_xx[b] + xx, target, lower, upper, compactness_weight)
                gain = (old_a + old_b) - (new_a + new_b)
                if gain > best_gain:
                    best = b
                    best_gain = gain
            if best < 0:
                continue
            if not last:
                stamp += 1
                if not stays_connected(labels, indptr, indices, a_lab, i, seen, wanted,
                                       stamp, queue):
                    continue
            labels[i] = best
            count[a_lab] -= 1
            count[best] += 1
            size[a_lab] -= h
            size[best] += h
            a_sum[a_lab] -= ar
            a_sum[best] += ar
            m_x[a_lab] -= x
            m_x[best] += x
            m_y[a_lab] -= y
            m_y[best] += y
            m_xx[a_lab] -= xx
            m_xx[best] += xx
            moved = True
        if not moved:
            break


@jit
def _less(d1: float, j1: int, d2: float, j2: int) -> bool:
    return d1 < d2 or (d1 == d2 and j1 < j2)


@jit
def grow_regions(labels: np.ndarray, indptr: np.ndarray, indices: np.ndarray,
                 xy: np.ndarray, hh: np.ndarray, seeds: np.ndarray) -> None:
    """Grow regions from their seeds, the smallest first, by nearest unassigned node.

    Each region keeps a heap of its unassigned neighbours by squared distance to the
    region's household-weighted centre (as it was when the neighbour was found); the
    region with the fewest households (the lowest number among equals) takes the
    nearest one, until no region can grow. The same steps as a Python loop with
    ``heapq`` on (distance, node) tuples.

    Parameters
    ----------
    labels
        Region of every node, the seeds labelled 0, 1, ... and every other node -1;
        changed in place.
    indptr, indices
        The adjacency of the nodes (CSR).
    xy
        Node centroids, shape (n, 2).
    hh
        Households per node.
    seeds
        The seed node of each region.
    """
    k = seeds.size
    size = np.empty(k)
    sum_x = np.empty(k)
    sum_y = np.empty(k)
    weight = np.empty(k)
    heap_d = [np.empty(16) for _ in range(k)]
    heap_j = [np.empty(16, dtype=np.int64) for _ in range(k)]
    heap_n = np.zeros(k, dtype=np.int64)
    active = np.ones(k, dtype=np.bool_)

    for r in range(k):
        s = seeds[r]
        size[r] = hh[s]
        sum_x[r] = xy[s, 0] * (hh[s] + 1.0)
        sum_y[r] = xy[s, 1] * (hh[s] + 1.0)
        weight[r] = hh[s] + 1.0

    def push(r: int, i: int) -> None:
        cx = sum_x[r] / weight[r]
        cy = sum_y[r] / weight[r]
        for kk in range(indptr[i], indptr[i + 1]):
            j = indices[kk]
            if labels[j] >= 0:
                continue
            d = (xy[j, 0] - cx) ** 2 + (xy[j, 1] - cy) ** 2
            n = heap_n[r]
            if n == heap_d[r].size:
                grown_d = np.empty(2 * n)
                grown_j = np.empty(2 * n, dtype=np.int64)
                grown_d[:n] = heap_d[r]
                grown_j[:n] = heap_j[r]
                heap_d[r] = grown_d
                heap_j[r] = grown_j
            hd = heap_d[r]
            hj = heap_j[r]
            pos = n
            while pos > 0:
                parent = (pos - 1) >> 1
                if _less(d, j, hd[parent], hj[parent]):
                    hd[pos] = hd[parent]
                    hj[pos] = hj[parent]
                    pos = parent
                else:
                    break
            hd[pos] = d
            hj[pos] = j
            heap_n[r] = n + 1

    def pop(r: int) -> int:
        hd = heap_d[r]
        hj = heap_j[r]
        top: int = hj[0]
        n = heap_n[r] - 1
        heap_n[r] = n
        if n > 0:
            d, j = hd[n], hj[n]
            pos = 0
            while True:
                child = 2 * pos + 1
                if child >= n:
                    break
                if child + 1 < n and _less(hd[child + 1], hj[child + 1], hd[child],
                                           hj[child]):
                    child += 1
                if _less(hd[child], hj[child], d, j):
                    hd[pos] = hd[child]
                    hj[pos] = hj[child]
                    pos = child
                else:
                    break
            hd[pos] = d
            hj[pos] = j
        return top

    for r in range(k):
        push(r, seeds[r])
    while True:
        r = -1
        lowest = np.inf
        for q in range(k):
            if active[q] and size[q] < lowest:
                lowest = size[q]
                r = q
        if r < 0:
            break
        while heap_n[r] > 0 and labels[heap_j[r][0]] >= 0:
            pop(r)
        if heap_n[r] == 0:
            active[r] = False
            continue
        j = pop(r)
        labels[j] = r
        size[r] += hh[j]
        sum_x[r] += xy[j, 0] * (hh[j] + 1.0)
        sum_y[r] += xy[j, 1] * (hh[j] + 1.0)
        weight[r] += hh[j] + 1.0
        push(r, j)


@jit
def _block_sum(a: np.ndarray, lo: int, n: int) -> float:
    """Return ``a[lo:lo + n].sum()`` for ``n`` <= 128, added as numpy adds them."""
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    while i < n - (n % 8):
        r0 += a[lo + i]
        r1 += a[lo + i + 1]
        r2 += a[lo + i + 2]
        r3 += a[lo + i + 3]
        r4 += a[lo + i + 4]
        r5 += a[lo + i + 5]
        r6 += a[lo + i + 6]
        r7 += a[lo + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return float(res)


@jit
def pairwise_sum(a: np.ndarray) -> float:
    """Return ``a.sum()`` added in numpy's order, so the same float.

    numpy sums a float array in blocks of at most 128, each over eight running sums, and
    halves longer runs at multiples of eight, adding the halves' sums. The halving is
    walked here with a stack (a recursive function loaded from numba's cache crashed).

    Parameters
    ----------
    a
        A one-dimensional float array.

    Returns
    -------
    float
        Its sum.
    """
    n = a.size
    if n <= 128:
        return _block_sum(a, 0, n)
    run_lo = np.empty(128, dtype=np.int64)
    run_n = np.empty(128, dtype=np.int64)
    stage = np.empty(128, dtype=np.int64)
    sums = np.empty(128)
    top, done = 0, 0
    run_lo[0], run_n[0], stage[0] = 0, n, 0
    while top >= 0:
        lo, m = run_lo[top], run_n[top]
        if m <= 128:
            sums[done] = _block_sum(a, lo, m)
            done += 1
            top -= 1
            continue
        half = m // 2
        half -= half % 8
        if stage[top] == 0:  # the first half next
            stage[top] = 1
            top += 1
            run_lo[top], run_n[top], stage[top] = lo, half, 0
        elif stage[top] == 1:  # then the second
            stage[top] = 2
            top += 1
            run_lo[top], run_n[top], stage[top] = lo + half, m - half, 0
        else:  # both summed: add them
            sums[done - 2] = sums[done - 2] + sums[done - 1]
            done -= 1
            top -= 1
    return float(sums[0])


@jit
def _draw(weights: np.ndarray, u: float, cdf: np.ndarray) -> int:
    """Return the index drawn by ``u`` in proportion to ``weights``, as numpy's choice.

    ``(weights / weights.sum()).cumsum()``, scaled by its last value, searched at ``u``
    (side right); ``cdf`` is scratch of the same size.
    """
    n = weights.size
    total = pairwise_sum(weights)
    run = 0.0
    for i in range(n):
        run += weights[i] / total
        cdf[i] = run
    last = cdf[n - 1]
    lo, hi = 0, n  # the first i with cdf[i] / last > u
    while lo < hi:
        mid = (lo + hi) // 2
        if cdf[mid] / last > u:
            hi = mid
        else:
            lo = mid + 1
    return lo


@jit
def kmeans_plus_plus(xy: np.ndarray, w: np.ndarray, u: np.ndarray
                     ) -> tuple[np.ndarray, bool]:
    """Pick k-means++ starting centres with the uniform numbers ``u`` (one per centre).

    The first centre is drawn in proportion to the weights, each next one in proportion
    to weight x squared distance to the nearest centre so far: the steps of
    :func:`gis.zoning.cluster._kmeans_start`, which draws its numbers one at a time from
    the same generator. Returns the centres, shape (``u.size``, 2), and False when a
    draw found every point on a centre (no distance left to draw by) or met weights
    that are not finite: the caller then starts over in Python, where the first takes a
    random point instead and the second fails as numpy does.

    Parameters
    ----------
    xy
        Points, shape (n, 2).
    w
        Their weights (positive).
    u
        Uniform numbers in [0, 1), one per centre.

    Returns
    -------
    tuple
        The centres and whether every draw had a distance to draw by.
    """
    n, k = xy.shape[0], u.size
    centres = np.empty((k, 2))
    cdf = np.empty(n)
    d2 = np.empty(n)
    nearest = np.empty(n)
    first = _draw(w, u[0], cdf)
    if first >= n:  # weights numpy could not draw by (not finite): Python says so
        return centres, False
    centres[0, 0], centres[0, 1] = xy[first, 0], xy[first, 1]
    for i in range(n):
        dx, dy = xy[i, 0] - centres[0, 0], xy[i, 1] - centres[0, 1]
        nearest[i] = dx * dx + dy * dy
    for j in range(1, k):
        positive = False
        for i in range(n):
            d2[i] = nearest[i] * w[i]
            if d2[i] > 0:
                positive = True
        if not positive:
            return centres, False
        pick = _draw(d2, u[j], cdf)
        if pick >= n:
            return centres, False
        centres[j, 0], centres[j, 1] = xy[pick, 0], xy[pick, 1]
        for i in range(n):
            dx, dy = xy[i, 0] - centres[j, 0], xy[i, 1] - centres[j, 1]
            nearest[i] = min(nearest[i], dx * dx + dy * dy)
    return centres, True


@jit
def lloyd(xy: np.ndarray, w: np.ndarray, centres: np.ndarray,
          iters: int) -> tuple[np.ndarray, np.ndarray]:
    """Run weighted k-means (Lloyd) steps from ``centres``; return labels and centres.

    Each step gives every point its nearest centre (the first of equals) and moves each
    centre that has points to their weighted mean; it stops when no centre moves beyond
    ``numpy.allclose``'s tolerance, or after ``iters`` steps. The sums run in point order,
    as ``numpy.bincount``'s do, so the labels equal those of the numpy steps (a
    community's k-means takes about 40 steps, each on a hundred points).

    Parameters
    ----------
    xy
        Points, shape (n, 2).
    w
        Their weights (positive).
    centres
        The starting centres, shape (k, 2).
    iters
        At most this many steps.

    Returns
    -------
    tuple of numpy.ndarray
        Each point's centre (as assigned by the last step) and the centres after it.
    """
    n, k = xy.shape[0], centres.shape[0]
    c = centres.copy()
    labels = np.zeros(n, dtype=np.int64)
    wsum, mx, my = np.empty(k), np.empty(k), np.empty(k)
    for _it in range(iters):
        for i in range(n):
            best, bj = np.inf, 0
            for j in range(k):
                dx, dy = xy[i, 0] - c[j, 0], xy[i, 1] - c[j, 1]
                d = dx * dx + dy * dy
                if d < best:
                    best, bj = d, j
            labels[i] = bj
        wsum[:] = 0.0
        mx[:] = 0.0
        my[:] = 0.0
        for i in range(n):
            j = labels[i]
            wsum[j] += w[i]
            mx[j] += w[i] * xy[i, 0]
            my[j] += w[i] * xy[i, 1]
        new = c.copy()
        close = True
        for j in range(k):
            if wsum[j] > 0:
                new[j, 0] = mx[j] / wsum[j]
                new[j, 1] = my[j] / wsum[j]
            for a in range(2):
                if abs(new[j, a] - c[j, a]) > 1e-8 + 1e-5 * abs(c[j, a]):
                    close = False
        if close:
            break
        c = new
    return labels, c


def warm_up() -> None:
    """Compile every loop here once, on a three-node graph (``make setup`` runs it).

    numba compiles a function at its first call (about 7 s for these, on 2 cores) and
    keeps the machine code beside this file, so no planner waits for it at the first
    "generate" of a new installation. The network's searches are compiled too.
    """
    network_compiled.warm_up()
    indptr = np.array([0, 1, 3, 4], dtype=np.int64)
    indices = np.array([1, 0, 2, 1], dtype=np.int64)
    xy = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]])
    hh = np.array([10.0, 10.0, 10.0])
    labels = np.array([0, -1, 1], dtype=np.int64)
    grow_regions(labels, indptr, indices, xy, hh, np.array([0, 2], dtype=np.int64))
    area = np.ones(3)
    px, py = xy[:, 0].copy(), xy[:, 1].copy()
    pxx = (xy ** 2).sum(axis=1)

    def sums(w: np.ndarray) -> np.ndarray:
        return np.bincount(labels, weights=w, minlength=2).astype(float)

    refine_moves(labels, indptr, indices, np.arange(3, dtype=np.int64), hh, area, px, py,
                 pxx, sums(hh), sums(area), sums(px), sums(py), sums(pxx),
                 np.bincount(labels, minlength=2).astype(np.int64), 15.0, 10.0, 20.0,
                 0.05, 2, False)
    lloyd(xy, hh, xy[:2].copy(), 5)
    kmeans_plus_plus(xy, hh, np.array([0.5, 0.5]))
    pairwise_sum(np.ones(300))
