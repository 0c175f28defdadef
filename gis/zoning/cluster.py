"""Weighted point clustering used to seed and to cut: k-means and balanced bisection."""

from __future__ import annotations

import numpy as np

from gis.zoning._compiled import kmeans_plus_plus, lloyd


def _balanced_parts(xy: np.ndarray, w: np.ndarray, parts: int) -> np.ndarray:
    """Return labels cutting points into ``parts`` groups of near-equal weight.

    Recursive bisection along the longer axis of each group (weighted median cuts).
    """
    labels = np.zeros(xy.shape[0], dtype=np.int64)

    def cut(idx: np.ndarray, k: int, first: int) -> None:
        if k <= 1 or idx.size <= 1:
            labels[idx] = first
            return
        pts = xy[idx]
        axis = int(np.argmax(pts.max(axis=0) - pts.min(axis=0)))
        order = idx[np.argsort(pts[:, axis], kind="stable")]
        k1 = k // 2
        cum = np.cumsum(w[order])
        goal = cum[-1] * k1 / k
        pos = int(np.searchsorted(cum, goal))
        if pos + 1 < cum.size and abs(cum[pos] - goal) > abs(cum[pos - 1] - goal if pos else 1e18):
            pos -= 1
        pos = int(np.clip(pos + 1, 1, order.size - 1))
        cut(order[:pos], k1, first)
        cut(order[pos:], k - k1, first + k1)

    cut(np.arange(xy.shape[0]), parts, 0)
    return labels


def _draw(rng: np.random.Generator, weights: np.ndarray) -> int:
    """Return ``rng.choice(len(weights), p=weights / weights.sum())``, drawn the same way.

    The same uniform number against the same cumulative sums as numpy's ``choice``
    (which checks the probabilities first: most of a k-means++ start's time).
    """
    cdf = (weights / weights.sum()).cumsum()
    cdf /= cdf[-1]
    return int(cdf.searchsorted(rng.random(), side="right"))


def _kmeans_start(rng: np.random.Generator, xy: np.ndarray, w: np.ndarray,
                  k: int) -> np.ndarray:
    """Return k-means++ starting centres, drawn one number at a time from ``rng``.

    The reference of :func:`gis.zoning._compiled.kmeans_plus_plus`, and its fallback
    where every point lies on a centre before ``k`` are drawn (a random point then).
    """
    n = xy.shape[0]
    centres = [xy[_draw(rng, w)]]
    nearest = ((xy - centres[0]) ** 2).sum(axis=1)
    for _j in range(1, k):
        d2 = nearest * w
        centres.append(xy[_draw(rng, d2)] if d2.sum() > 0 else xy[rng.integers(n)])
        nearest = np.minimum(nearest, ((xy - centres[-1]) ** 2).sum(axis=1))
    return np.array(centres, dtype=float)


def _kmeans(xy: np.ndarray, w: np.ndarray, k: int, *, seed: int = 0, iters: int = 25,
            restarts: int = 8, compiled: bool = True) -> np.ndarray:
    """Return weighted k-means labels: best of ``restarts`` k-means++ starts (seeded).

    Each start is drawn by the compiled loop with the generator's next ``k`` numbers:
    the same numbers, so the same centres, as drawing them one at a time (a city's
    communities start k-means some 4,000 times; in numpy that was a third of the
    partition's time). Where a start runs out of distance to draw by, the whole
    clustering starts over one draw at a time (``compiled=False``), as it always was.
    """
    rng = np.random.default_rng(seed)
    w = np.maximum(w, 1e-6)
    n = xy.shape[0]
    compiled = compiled and n > 0 and k > 0
    if k * n > 2_000_000:  # a city's communities: each restart costs n x k
        restarts = min(restarts, 2)
    best_labels, best_cost = np.zeros(n, dtype=np.int64), np.inf
    for _ in range(restarts):
        if compiled:
            centres, ok = kmeans_plus_plus(xy, w, rng.random(k))
            if not ok:
                return _kmeans(xy, w, k, seed=seed, iters=iters, restarts=restarts,
                               compiled=False)
        else:
            centres = _kmeans_start(rng, xy, w, k)
        labels, c = lloyd(xy, w, centres, iters)
        cost = float((w * ((xy - c[labels]) ** 2).sum(axis=1)).sum())
        if cost < best_cost - 1e-9:
            best_labels, best_cost = labels, cost
    return best_labels
