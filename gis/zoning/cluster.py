"""Weighted point clustering used to seed and to cut: k-means and balanced bisection."""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree


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


def _nearest_centre(xy: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Return the nearest centre of every point (a k-d tree when there are many centres)."""
    if centres.shape[0] <= 16:
        return np.asarray(np.argmin(((xy[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2),
                                    axis=1))
    return np.asarray(cKDTree(centres).query(xy)[1])


def _kmeans(xy: np.ndarray, w: np.ndarray, k: int, *, seed: int = 0, iters: int = 25,
            restarts: int = 8) -> np.ndarray:
    """Return weighted k-means labels: best of ``restarts`` k-means++ starts (seeded)."""
    rng = np.random.default_rng(seed)
    w = np.maximum(w, 1e-6)
    n = xy.shape[0]
    if k * n > 2_000_000:  # a city's communities: each restart costs n x k
        restarts = min(restarts, 2)
    best_labels, best_cost = np.zeros(n, dtype=np.int64), np.inf
    for _ in range(restarts):
        centres = [xy[rng.choice(n, p=w / w.sum())]]
        nearest = ((xy - centres[0]) ** 2).sum(axis=1)
        for _j in range(1, k):
            d2 = nearest * w
            centres.append(xy[rng.choice(n, p=d2 / d2.sum())] if d2.sum() > 0
                           else xy[rng.integers(n)])
            nearest = np.minimum(nearest, ((xy - centres[-1]) ** 2).sum(axis=1))
        c = np.array(centres)
        labels = np.zeros(n, dtype=np.int64)
        for _it in range(iters):
            labels = _nearest_centre(xy, c)
            wsum = np.bincount(labels, weights=w, minlength=k)
            mx = np.bincount(labels, weights=w * xy[:, 0], minlength=k)
            my = np.bincount(labels, weights=w * xy[:, 1], minlength=k)
            has = wsum > 0
            new = c.copy()
            new[has, 0] = mx[has] / wsum[has]
            new[has, 1] = my[has] / wsum[has]
            if np.allclose(new, c):
                break
            c = new
        cost = float((w * ((xy - c[labels]) ** 2).sum(axis=1)).sum())
        if cost < best_cost - 1e-9:
            best_labels, best_cost = labels, cost
    return best_labels
