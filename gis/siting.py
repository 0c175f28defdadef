"""Choose new station sites that bring the most uncovered households inside the circle.

The maximal covering problem follows the spopt shape: a core constructor from a coverage
(or cost) matrix, a thin one from the network, then ``solve()`` returning a new frozen
:class:`SitingResult`. It is solved exactly as a mixed-integer program with HiGHS
(``scipy.optimize.milp``) after a greedy solution gives instant feedback. The model is
first made smaller without changing its optimum:

- demand points that see exactly the same candidates are merged (weights added);
- demand no candidate reaches, and candidates that reach no demand, are dropped;
- a candidate whose covered set is contained in another's is dropped (keeping at least
  ``p`` candidates), since swapping it for the larger one never lowers coverage.

Also here: the fewest sites that reach a target share of households (set covering), and
maximal covering with a capacity per site (households one station can serve).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from scipy.optimize import Bounds, LinearConstraint, milp

from gis._errors import InputError, NoReachableFacilityError
from gis.access import Access
from gis.crs import require_projected
from gis.network import Snap, same_edge_pairs

if TYPE_CHECKING:
    from gis.coverage import CoverageResult
    from gis.settings import Settings

Progress = Callable[[str], None]


@dataclass(frozen=True)
class SitingResult:
    """Chosen sites and what they achieve.

    Attributes
    ----------
    chosen
        Positions of the chosen candidates (in the candidate order given to the model),
        sorted by marginal gain, largest first.
    gains
        Households each chosen site adds, in that order (marginal: each counted once).
    objective
        Households newly covered by all chosen sites together.
    method
        ``"greedy"``, ``"milp"`` or ``"set_cover"``.
    optimal
        True when the solver proved optimality.
    mip_gap
        Relative optimality gap reported by the solver (0 when optimal, NaN for greedy).
    seconds
        Wall time of the solve.
    message
        The solver's status message.
    """

    chosen: np.ndarray
    gains: np.ndarray
    objective: float
    method: str
    optimal: bool
    mip_gap: float
    seconds: float
    message: str = ""
    model_size: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class MaxCoverageModel:
    """Maximal covering: choose ``p`` candidates covering the most demand weight.

    Build with :meth:`from_coverage` (a demand x candidate boolean matrix) or
    :meth:`from_cost_matrix` (walking minutes), or from the network with
    :func:`coverage_matrix`.
    """

    cover: sp.csr_matrix
    weights: np.ndarray
    p: int
    capacity: np.ndarray | None = None

    @classmethod
    def from_coverage(cls, cover: sp.spmatrix | np.ndarray, weights: np.ndarray, *, p: int,
                      capacity: float | np.ndarray | None = None) -> MaxCoverageModel:
        """Build the model from a demand x candidate matrix of True where covered."""
        cov = sp.csr_matrix(cover, dtype=bool)
        w = np.asarray(weights, dtype=float)
        if cov.shape[0] != w.size:
            msg = (f"`weights` has {w.size} entries but `cover` has {cov.shape[0]} demand rows.")
            raise InputError(msg)
        n_cand = cov.shape[1]
        if p < 1:
            msg = f"The number of new sites must be at least 1, found {p}."
            raise InputError(msg, key="k_too_small", k=p)
        if p > n_cand:
            msg = (f"Asked for {p} new sites but there are only {n_cand} candidates; lower k "
                   "or add candidate sites.")
            raise InputError(msg, key="k_too_large", k=p, n=n_cand)
        cap = None
        if capacity is not None:
            cap = np.broadcast_to(np.asarray(capacity, dtype=float), (n_cand,)).copy()
            if (cap <= 0).any():
                msg = "Every site capacity must be positive (households a station can serve)."
                raise InputError(msg, key="capacity_not_positive")
        return cls(cov, w, int(p), cap)

    @classmethod
    def from_cost_matrix(cls, cost_min: np.ndarray, weights: np.ndarray, *,
                         service_min: float, p: int) -> MaxCoverageModel:
        """Build the model from walking minutes (demand x candidate) and a threshold."""
        return cls.from_coverage(np.asarray(cost_min) <= service_min, weights, p=p)

    # -- greedy -----------------------------------------------------------------------

    def greedy(self) -> SitingResult:
        """Return the greedy solution: repeatedly take the site adding the most."""
        t0 = time.perf_counter()
        csc = self.cover.tocsc()
        remaining = self.weights.copy()
        cap = self.capacity
        chosen: list[int] = []
        gains: list[float] = []
        available = np.ones(csc.shape[1], dtype=bool)
        for _ in range(self.p):
            gain = csc.T @ remaining
            if cap is not None:
                gain = np.minimum(gain, cap)
            gain = np.where(available, gain, -1.0)
            j = int(np.argmax(gain))
            if gain[j] <= 0:
                break
            rows = csc.indices[csc.indptr[j]:csc.indptr[j + 1]]
            if cap is None:
                remaining[rows] = 0.0
            else:
                budget = cap[j]
                for i in rows[np.argsort(-remaining[rows])]:
                    take = min(budget, remaining[i])
                    remaining[i] -= take
                    budget -= take
                    if budget <= 0:
                        break
            chosen.append(j)
            gains.append(float(gain[j]))
            available[j] = False
        return SitingResult(np.asarray(chosen, dtype=np.int64), np.asarray(gains),
                            float(sum(gains)), "greedy", False, np.nan,
                            time.perf_counter() - t0, "greedy")

    # -- exact ------------------------------------------------------------------------

    def reduced(self) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
        """Return the reduced (cover, weights, candidate positions) with the same optimum.

        Only for the uncapacitated model; see the module docstring.
        """
        cov = self.cover.tocsr()
        keep_rows = np.asarray(cov.sum(axis=1)).ravel() > 0
        cov = cov[keep_rows]
        w = self.weights[keep_rows]
        cand = np.flatnonzero(np.asarray(cov.sum(axis=0)).ravel() > 0)
        cov = cov[:, cand]
        # Merge demand rows with identical candidate sets.
        cov.sort_indices()
        keys = [cov.indices[cov.indptr[i]:cov.indptr[i + 1]].tobytes()
                for i in range(cov.shape[0])]
        codes, uniq_pos = pd.factorize(pd.Series(keys))
        w_merged = np.bincount(codes, weights=w)
        first_row = np.zeros(len(uniq_pos), dtype=np.int64)
        first_row[codes[::-1]] = np.arange(len(codes))[::-1]
        cov = cov[first_row]
        # Drop candidates dominated by another (covered set contained in theirs).
        if cand.size > self.p:
            a = cov.astype(np.float64).tocsc()
            size = np.asarray(a.sum(axis=0)).ravel()
            overlap = (a.T @ a).tocoo()
            j, k = overlap.row, overlap.col
            contained = (overlap.data == size[j]) & (j != k) & (
                (size[k] > size[j]) | ((size[k] == size[j]) & (k < j)))
            dominated = np.zeros(cand.size, dtype=bool)
            dominated[j[contained]] = True
            if (~dominated).sum() >= self.p:
                keep = ~dominated
                cand = cand[keep]
                cov = cov[:, np.flatnonzero(keep)]
        return cov.tocsr(), w_merged, cand

    def solve(self, *, time_limit_s: float = 30.0) -> SitingResult:
        """Solve exactly with HiGHS (``scipy.optimize.milp``) on the reduced model.

        When the time limit is reached, the best solution found is returned with
        ``optimal=False`` and the solver's optimality gap.
        """
        if self.capacity is not None:
            return self._solve_capacitated(time_limit_s)
        t0 = time.perf_counter()
        greedy = self.greedy()
        cov, w, cand = self.reduced()
        n, m = cov.shape
        size = {"demand_rows": int(self.cover.shape[0]), "demand_groups": int(n),
                "candidates": int(self.cover.shape[1]), "candidates_kept": int(m)}
        if m <= self.p:
            chosen = cand
            return self._finish(chosen, "milp", True, 0.0, t0, "all useful candidates", size)
        # A bound first (Lagrangian relaxation of the cover links): it proves many models
        # optimal, or gives a gap, in a few sparse products instead of a MILP.
        bound = lagrangian_bound(cov, w, self.p, lower=greedy.objective,
                                 time_limit_s=min(10.0, time_limit_s / 3))
        best_cols = cand[bound.chosen]
        best = self._finish(best_cols, "lagrangian", False, np.nan, t0, "", size)
        size = {**size, "lagrangian_iterations": bound.iterations}
        lb = max(best.objective, greedy.objective)
        gap = _relative_gap(bound.upper, lb)
        if _proven(bound.upper, lb, w):
            src = best if best.objective >= greedy.objective else greedy
            return SitingResult(src.chosen, src.gains, src.objective, "lagrangian", True, 0.0,
                                time.perf_counter() - t0,
                                f"optimal: the Lagrangian bound {bound.upper:.1f} equals the "
                                "best solution", size)
        if cov.nnz > SOLVE_APART_NNZ and gap <= LARGE_MODEL_GAP:
            # A model this large would spend the whole limit in HiGHS' presolve and root LP
            # (seen: 45 s and no solution on Porto); the bound already says how far off.
            src = best if best.objective >= greedy.objective else greedy
            return SitingResult(src.chosen, src.gains, src.objective, "lagrangian", False, gap,
                                time.perf_counter() - t0,
                                f"within {gap:.2%} of the best possible (Lagrangian bound "
                                f"{bound.upper:.1f})", size)
        # Variables: x (m candidates, binary), y (n demand groups, continuous 0..1).
        c = np.concatenate([np.zeros(m), -w])
        # y_i - sum of x_j over the candidates covering i <= 0
        link = sp.hstack([-cov.astype(np.float64), sp.identity(n, format="csr")]).tocsr()
        count = sp.csr_matrix(np.concatenate([np.ones(m), np.zeros(n)]))
        integrality = np.concatenate([np.ones(m), np.zeros(n)])
        if cov.nnz > SOLVE_APART_NNZ:
            res = _milp_with_deadline(c, link, count, self.p, integrality, time_limit_s)
        else:
            res = _milp(c, link, count, self.p, integrality, time_limit_s)
        src = best if best.objective >= greedy.objective else greedy
        if res.x is None:
            # No solution within the limit: the best heuristic one, with the bound's gap.
            return SitingResult(src.chosen, src.gains, src.objective, src.method, False, gap,
                                time.perf_counter() - t0,
                                f"solver found no solution ({res.message}); the best "
                                f"heuristic solution is shown, within {gap:.2%}", size)
        x = res.x[:m] > 0.5
        chosen = cand[x]
        optimal = res.status == 0
        mip_gap = float(getattr(res, "mip_gap", np.nan) or 0.0) if optimal else float(
            getattr(res, "mip_gap", np.nan))
        result = self._finish(chosen, "milp", optimal, mip_gap, t0, res.message, size)
        if not optimal:
            # Either gap is a valid bound on the distance to the optimum: keep the smaller.
            best_obj = max(result.objective, src.objective)
            mip_gap = np.nanmin([mip_gap if result.objective >= src.objective else np.nan,
                                 _relative_gap(bound.upper, best_obj)])
            result = replace(result, mip_gap=float(mip_gap))
        if result.objective < src.objective:  # a time-limited run can trail the heuristics
            return SitingResult(src.chosen, src.gains, src.objective, src.method,
                                False, float(mip_gap), result.seconds,
                                f"{res.message}; the heuristic solution was better and is "
                                "shown", size)
        return result

    def _finish(self, chosen: np.ndarray, method: str, optimal: bool, gap: float, t0: float,
                message: str, size: dict[str, int]) -> SitingResult:
        """Order chosen sites by marginal gain on the full model and compute the objective."""
        chosen = np.asarray(chosen, dtype=np.int64)
        csc = self.cover.tocsc()
        remaining = self.weights.copy()
        order: list[int] = []
        gains: list[float] = []
        left = list(chosen)
        while left:
            g = [remaining[csc.indices[csc.indptr[j]:csc.indptr[j + 1]]].sum() for j in left]
            best = int(np.argmax(g))
            j = left.pop(best)
            order.append(j)
            gains.append(float(g[best]))
            remaining[csc.indices[csc.indptr[j]:csc.indptr[j + 1]]] = 0.0
        return SitingResult(np.asarray(order, dtype=np.int64), np.asarray(gains),
                            float(sum(gains)), method, optimal, gap,
                            time.perf_counter() - t0, message, size)

    def _solve_capacitated(self, time_limit_s: float) -> SitingResult:
        t0 = time.perf_counter()
        cap = self.capacity
        assert cap is not None
        coo = self.cover.tocoo()
        n, m = self.cover.shape
        k = coo.nnz  # assignment variables z for each (demand, candidate) pair
        # Variables: x (m, binary), z (k, continuous 0..1 share of demand i served by j).
        c = np.concatenate([np.zeros(m), -self.weights[coo.row]])
        z_idx = np.arange(k)
        once = sp.csr_matrix((np.ones(k), (coo.row, m + z_idx)), shape=(n, m + k))
        load = sp.csr_matrix((np.concatenate([self.weights[coo.row], -cap]),
                              (np.concatenate([coo.col, np.arange(m)]),
                               np.concatenate([m + z_idx, np.arange(m)]))), shape=(m, m + k))
        count = sp.csr_matrix(np.concatenate([np.ones(m), np.zeros(k)]))
        res = milp(c, constraints=[LinearConstraint(once, -np.inf, 1.0),
                                   LinearConstraint(load, -np.inf, 0.0),
                                   LinearConstraint(count, self.p, self.p)],
                   integrality=np.concatenate([np.ones(m), np.zeros(k)]),
                   bounds=Bounds(0.0, 1.0),
                   options={"time_limit": time_limit_s, "mip_rel_gap": 0.0, "disp": False})
        size = {"demand_rows": n, "candidates": m, "assignment_pairs": k}
        if res.x is None:
            g = self.greedy()
            return SitingResult(g.chosen, g.gains, g.objective, "greedy", False, np.nan,
                                time.perf_counter() - t0,
                                f"solver found no solution ({res.message}); greedy shown", size)
        x = res.x[:m] > 0.5
        served = np.bincount(coo.col, weights=self.weights[coo.row] * res.x[m:], minlength=m)
        chosen = np.flatnonzero(x)
        order = chosen[np.argsort(-served[chosen], kind="stable")]
        return SitingResult(order, served[order], float(-res.fun), "milp", res.status == 0,
                            float(getattr(res, "mip_gap", np.nan)) if res.status != 0 else 0.0,
                            time.perf_counter() - t0, res.message, size)


#: On a model too large for the MILP, a Lagrangian gap at most this large is reported as
#: it is, without starting HiGHS.
LARGE_MODEL_GAP = 0.01


@dataclass(frozen=True)
class LagrangianBound:
    """An upper bound on the maximal covering optimum and the best solution met on the way.

    Attributes
    ----------
    upper
        The bound: no choice of ``p`` candidates covers more weight.
    chosen
        Column positions of the best solution found by the relaxation's own choices.
    lower
        The weight that solution covers.
    iterations
        Subgradient steps taken.
    """

    upper: float
    chosen: np.ndarray
    lower: float
    iterations: int


def _relative_gap(upper: float, lower: float) -> float:
    return float(max(0.0, upper - lower) / upper) if upper > 0 else 0.0


def _proven(upper: float, lower: float, w: np.ndarray) -> bool:
    """Return True when ``lower`` is optimal under the bound ``upper``."""
    if upper - lower <= 1e-9 * max(1.0, abs(upper)):
        return True
    # With whole-number weights the optimum is a whole number: a bound below the next
    # one proves the solution optimal.
    return bool(np.all(w == np.round(w)) and np.floor(upper + 1e-9) <= lower + 1e-9)


def lagrangian_bound(cov: sp.spmatrix, w: np.ndarray, p: int, *, lower: float = 0.0,
                     iterations: int = 300, time_limit_s: float = 10.0) -> LagrangianBound:
    """Bound the maximal covering optimum by relaxing the cover links (subgradient method).

    For multipliers ``lam`` (one per demand row, 0 <= lam <= w) the relaxed problem
    ``sum(max(0, w - lam)) + the p largest of cov.T @ lam`` is an upper bound on the
    optimum; the multipliers are lowered along subgradients (Held-Karp steps towards the
    best known solution ``lower``), the least bound is kept, and each step's p columns are
    tried as a solution (Galvao and ReVelle 1996).

    Parameters
    ----------
    cov
        Demand x candidate, True where the candidate covers the demand.
    w
        Demand weights (households).
    p
        Sites to choose.
    lower
        The weight covered by a known solution (e.g. greedy), which steers the steps.
    iterations, time_limit_s
        Limits of the subgradient loop.

    Returns
    -------
    LagrangianBound
    """
    t0 = time.perf_counter()
    a = sp.csr_matrix(cov, dtype=np.float64)
    at = a.T.tocsr()
    w = np.asarray(w, dtype=float)
    m = a.shape[1]
    p = min(p, m)
    deg = np.maximum(np.asarray(a.sum(axis=1)).ravel(), 1.0)
    lam = w / deg  # the weight shared among the candidates that can cover it
    best_up, target = np.inf, float(lower)
    best_low, best_cols = -1.0, np.zeros(0, dtype=np.int64)
    step, stall, it = 2.0, 0, 0
    for it in range(1, iterations + 1):  # noqa: B007 (the count is returned)
        score = at @ lam
        cols = np.argpartition(-score, p - 1)[:p]
        up = float(np.maximum(w - lam, 0.0).sum() + score[cols].sum())
        if up < best_up - 1e-9:
            best_up, stall = up, 0
        else:
            stall += 1
            if stall >= 15:
                step, stall = step / 2, 0
        hits = np.asarray(a[:, cols].sum(axis=1)).ravel()
        low = float(w[hits > 0].sum())
        if low > best_low:
            best_low, best_cols = low, cols
        target = max(target, best_low)
        if _proven(best_up, target, w) or step < 1e-4:
            break
        if time.perf_counter() - t0 > time_limit_s:
            break
        g = hits - (w > lam).astype(float)  # subgradient of the bound in lam
        norm = float(g @ g)
        if norm == 0:
            break
        lam = np.clip(lam - step * (up - target) / norm * g, 0.0, w)
    return LagrangianBound(float(best_up), np.asarray(best_cols, dtype=np.int64),
                           float(best_low), it)


#: Models with more cover entries than this are solved in a child process that is stopped
#: at the time limit: on a large model HiGHS can spend minutes in presolve and the root
#: LP before it looks at its own limit (seen: 85 s against a 10 s limit on Porto).
SOLVE_APART_NNZ = 300_000


def _milp(c: np.ndarray, link: sp.csr_matrix, count: sp.csr_matrix, p: int,
          integrality: np.ndarray, time_limit_s: float) -> object:
    """Solve the maximal covering MILP with HiGHS (scipy.optimize.milp)."""
    return milp(c, constraints=[LinearConstraint(link, -np.inf, 0.0),
                                LinearConstraint(count, p, p)],
                integrality=integrality, bounds=Bounds(0.0, 1.0),
                options={"time_limit": time_limit_s, "mip_rel_gap": 0.0, "disp": False})


def _milp_with_deadline(c: np.ndarray, link: sp.csr_matrix, count: sp.csr_matrix, p: int,
                        integrality: np.ndarray, time_limit_s: float) -> object:
    """Run :func:`_milp` in a child process and stop it when the time limit has passed.

    Returns the solver's result, or a result with no solution and a message when the
    child had to be stopped (the caller then shows the greedy answer and says so).
    """
    import subprocess
    import sys
    import tempfile
    from pathlib import Path
    from types import SimpleNamespace

    with tempfile.TemporaryDirectory() as d:
        model, result = Path(d) / "model.npz", Path(d) / "result.npz"
        np.savez(model, c=c, link_data=link.data, link_indices=link.indices,
                 link_indptr=link.indptr, link_shape=np.asarray(link.shape),
                 count=count.toarray().ravel(), p=p, integrality=integrality,
                 time_limit_s=time_limit_s)
        child = subprocess.Popen([sys.executable, "-m", "gis._milp_child", str(model),
                                  str(result)], cwd=Path(__file__).resolve().parent.parent,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            # Starting the child and reading the model take a few seconds of their own.
            child.wait(timeout=time_limit_s + 15.0)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        if child.returncode != 0 or not result.exists():
            return SimpleNamespace(
                x=None, status=1, mip_gap=np.nan,
                message=f"time limit of {time_limit_s:.0f} s reached before the solver "
                        "found a solution; stopped")
        out = np.load(result)
        return SimpleNamespace(x=out["x"] if bool(out["has_x"]) else None,
                               status=int(out["status"]), mip_gap=float(out["mip_gap"]),
                               message=str(out["message"]))


def set_cover(cover: sp.spmatrix, weights: np.ndarray, *, needed: float,
              time_limit_s: float = 30.0) -> SitingResult:
    """Return the fewest candidates that together cover at least ``needed`` weight.

    Raises
    ------
    InputError
        When even every candidate together cannot reach ``needed``.
    """
    t0 = time.perf_counter()
    cov = sp.csr_matrix(cover, dtype=bool)
    w = np.asarray(weights, dtype=float)
    reach = w[np.asarray(cov.sum(axis=1)).ravel() > 0].sum()
    if needed <= 0:
        return SitingResult(np.zeros(0, dtype=np.int64), np.zeros(0), 0.0, "set_cover", True,
                            0.0, time.perf_counter() - t0, "target already met")
    if reach + 1e-9 < needed:
        msg = (f"The target needs {needed:.0f} more households covered, but all candidates "
               f"together reach only {reach:.0f}; lower the target share or add candidates.")
        raise InputError(msg, key="target_unreachable", needed=f"{needed:.0f}",
                         reach=f"{reach:.0f}")
    n, m = cov.shape
    c = np.concatenate([np.ones(m), np.zeros(n)])
    link = sp.hstack([-cov.astype(np.float64), sp.identity(n, format="csr")]).tocsr()
    total = sp.csr_matrix(np.concatenate([np.zeros(m), w]))
    res = milp(c, constraints=[LinearConstraint(link, -np.inf, 0.0),
                               LinearConstraint(total, needed, np.inf)],
               integrality=np.concatenate([np.ones(m), np.zeros(n)]), bounds=Bounds(0.0, 1.0),
               options={"time_limit": time_limit_s, "mip_rel_gap": 0.0, "disp": False})
    if res.x is None:
        msg = f"The set-covering solver found no solution in {time_limit_s:.0f} s ({res.message})."
        raise InputError(msg)
    chosen = np.flatnonzero(res.x[:m] > 0.5)
    model = MaxCoverageModel.from_coverage(cov, w, p=max(1, chosen.size))
    out = model._finish(chosen, "set_cover", res.status == 0, 0.0 if res.status == 0
                        else float(getattr(res, "mip_gap", np.nan)), t0, res.message,
                        {"demand_rows": n, "candidates": m})
    return out


def candidate_sites(demand: Access, threshold_m: float, *,
                    spacing_m: float) -> gpd.GeoDataFrame:
    """Return default candidate sites: street points that reach uncovered homes, thinned.

    Candidates are every network node, every point each ``spacing_m`` along longer
    streets, and the point where each demand home enters the network (its attachment,
    or its compound's gates), that lies within ``threshold_m`` walking of at least one
    demand home; so a home beside a long street with no intersection in reach still gets
    candidates on its own street. They are thinned to one per ``spacing_m`` square
    (planar), keeping in each square the one closest along the network to a home.

    Parameters
    ----------
    demand
        The access model of the homes to reach (e.g. ``result.access.subset(...)`` of
        the uncovered homes).
    threshold_m
        The walk threshold.
    spacing_m
        Spacing of points along streets and size of the thinning squares.

    Returns
    -------
    geopandas.GeoDataFrame
        Points on the network in its CRS, with ``node`` (-1 for points along a street)
        and ``to_demand_m``.
    """
    network = demand.network
    ex = demand.exits
    if ex.edge.size == 0:
        msg = "No uncovered home is attached to the network; there is nothing to site for."
        raise NoReachableFacilityError(msg, key="nothing_to_site")
    nd = network.node_distances(ex, limit_m=threshold_m)
    nodes = np.flatnonzero(np.isfinite(nd))
    xy = [network.node_xy[nodes]]
    reach = [nd[nodes]]
    node_id = [nodes]
    length = network.edge_length_m
    # Points every spacing_m along streets longer than the spacing, so that long blocks
    # with few intersections still get candidates: streets with a reached end, and the
    # streets the demand homes enter by (reached from inside even when neither end is).
    own = np.zeros(network.n_edges, dtype=bool)
    own[ex.edge] = True
    long_edges = np.flatnonzero((length > spacing_m) & (np.isfinite(nd[network.edge_u])
                                                         | np.isfinite(nd[network.edge_v])
                                                         | own))
    if long_edges.size:
        counts = np.floor(length[long_edges] / spacing_m).astype(np.int64)
        counts[np.isclose(counts * spacing_m, length[long_edges])] -= 1
        e = np.repeat(long_edges, counts)
        step = np.concatenate([np.arange(1, c + 1) for c in counts]) * spacing_m
        d = np.minimum(nd[network.edge_u[e]] + step,
                       nd[network.edge_v[e]] + length[e] - step)
        d = np.minimum(d, _direct_along_edge(ex, e, step))
        inside = d <= threshold_m
        pts = shapely.line_interpolate_point(network.edge_geometry[e[inside]], step[inside])
        xy.append(shapely.get_coordinates(pts))
        reach.append(d[inside])
        node_id.append(np.full(int(inside.sum()), -1))
    # The entry points themselves (a site right at the home's street).
    near = ex.access_m <= threshold_m
    if near.any():
        pts = shapely.line_interpolate_point(network.edge_geometry[ex.edge[near]],
                                             ex.offset_m[near])
        xy.append(shapely.get_coordinates(pts))
        reach.append(ex.access_m[near])
        node_id.append(np.full(int(near.sum()), -1))
    all_xy = np.vstack(xy)
    all_reach = np.concatenate(reach)
    all_node = np.concatenate(node_id)
    cell = np.floor(all_xy / spacing_m).astype(np.int64)
    order = np.lexsort((all_reach, cell[:, 1], cell[:, 0]))
    c_o = cell[order]
    first = np.ones(order.size, dtype=bool)
    first[1:] = np.any(c_o[1:] != c_o[:-1], axis=1)
    keep = order[first]
    return gpd.GeoDataFrame({"node": all_node[keep], "to_demand_m": all_reach[keep]},
                            geometry=gpd.points_from_xy(all_xy[keep, 0], all_xy[keep, 1]),
                            crs=network.crs)


def _direct_along_edge(ex: Snap, e: np.ndarray, step: np.ndarray) -> np.ndarray:
    """Return the walk to each street point from the nearest exit on the same street.

    Points are given by edge ``e`` and offset ``step``; the walk is the exit's access leg
    plus the distance along the street (inf where no exit is on that street).
    """
    out = np.full(e.size, np.inf)
    pi, xi = same_edge_pairs(e, ex.edge)
    d = ex.access_m[xi] + np.abs(step[pi] - ex.offset_m[xi])
    np.minimum.at(out, pi, d)
    return out


def coverage_matrix(demand: Access, candidates: gpd.GeoDataFrame, threshold_m: float, *,
                    progress: Progress | None = None) -> tuple[sp.csr_matrix, Snap]:
    """Return the demand x candidate matrix of walking distance within ``threshold_m``.

    One bounded search per candidate, run in compiled chunks; homes reach the streets as
    ``demand`` (an access model) says, and candidates attach under its snap limit.

    Returns
    -------
    tuple
        The boolean CSR matrix (rows aligned with ``demand.homes``, columns with
        ``candidates``) and the candidates' snap (candidates too far from the network
        cover nothing).
    """
    say = progress or (lambda _m: None)
    require_projected(("candidates", candidates))
    csnap = demand.snap(candidates)
    say(f"walking distances from {int(csnap.ok.sum())} candidate sites")
    c, r, _d = demand.pair_distances(csnap, limit_m=threshold_m)
    mat = sp.csr_matrix((np.ones(r.size, dtype=bool), (r, c)),
                        shape=(demand.n_homes, len(candidates)))
    return mat, csnap


@dataclass(frozen=True)
class SitingPlan:
    """Proposed new sites for one category, checked by the coverage engine.

    Attributes
    ----------
    category
        The category sited for.
    sites
        Chosen sites (local CRS), best first: ``rank``, ``gain_households`` (marginal),
        ``community`` / ``grid`` when zones were given, and ``circle`` (its service area
        polygon, WKT-free shapely geometry in a separate GeoSeries ``circles``).
    circles
        The service circle polygon of each site, aligned with ``sites``.
    greedy, exact
        The greedy preview and the exact (or best found) solution.
    before, after
        Households covered before and after, recomputed by the coverage engine with
        the sites added as facilities (an independent check of the objective).
    candidates
        The candidate sites used.
    """

    category: str
    sites: gpd.GeoDataFrame
    circles: gpd.GeoSeries
    greedy: SitingResult
    exact: SitingResult
    before: int
    after: int
    candidates: gpd.GeoDataFrame

    @property
    def newly_covered(self) -> int:
        """Return households brought inside the circle, as recomputed by the engine."""
        return self.after - self.before


def plan_sites(result: CoverageResult, category: str, settings: Settings, *,
               k: int = 5, candidates: gpd.GeoDataFrame | None = None,
               capacity: float | None = None, target_share: float | None = None,
               zones: dict[str, gpd.GeoDataFrame] | None = None,
               time_limit_s: float | None = None,
               progress: Progress | None = None) -> SitingPlan:
    """Propose new sites for ``category`` and check them with the coverage engine.

    Every step (uncovered homes, candidates, the coverage matrix and the final check)
    uses the result's access model, so a proposal's gain is the gain the coverage
    engine confirms under the same snap limit and compound gates.

    Parameters
    ----------
    result
        The coverage result to improve on.
    category
        The category to site for.
    settings
        Settings.
    k
        Number of new sites (ignored with ``target_share``).
    candidates
        Candidate premises in the network CRS (optional ``capacity`` column); default:
        street points near the gaps (see :func:`candidate_sites`).
    capacity
        Households one new site can serve (default: unlimited, or the candidates'
        ``capacity`` column).
    target_share
        With a share (0-1), choose the fewest sites that bring coverage of the category
        to at least that share of households (set covering).
    zones
        Optional ``{"community": gdf, "grid": gdf}`` with a ``name`` column, to say where
        each site falls.
    time_limit_s
        Solver time limit (default: settings).
    progress
        Called with a message per step.

    Returns
    -------
    SitingPlan

    Examples
    --------
    >>> plan = plan_sites(result, "elderly_care", settings, k=3)  # doctest: +SKIP
    >>> plan.newly_covered, plan.exact.optimal  # doctest: +SKIP
    (1240, True)
    """
    from gis.coverage import category_circle, compute_coverage
    from gis.gaps import find_gaps

    say = progress or (lambda _m: None)
    access = result.access
    limit = settings.solver_time_limit_s if time_limit_s is None else time_limit_s
    thr = result.thresholds[category].metres
    say("finding uncovered homes")
    gaps = find_gaps(result, category, settings)
    demand = gaps.homes
    if len(demand) == 0:
        msg = f"Every household is already inside the {category} circle; no site is needed."
        raise InputError(msg, key="no_gap", category=category)
    demand_access = access.subset(access.home_positions(demand.index))
    if candidates is None:
        say("choosing candidate sites near the gaps")
        cands = candidate_sites(demand_access, thr, spacing_m=settings.candidate_spacing_m)
    else:
        require_projected(("candidates", candidates))
        cands = candidates.reset_index(drop=True)
    if target_share is None and k > len(cands):
        hint = ("lower k or add candidate sites" if candidates is not None else
                "lower k, or supply candidate premises")
        msg = (f"Asked for {k} new sites but there are only {len(cands)} candidates; {hint}.")
        raise InputError(msg, key="k_too_large", k=k, n=len(cands))
    say(f"building the coverage matrix ({len(demand)} homes x {len(cands)} candidates)")
    cover, csnap = coverage_matrix(demand_access, cands, thr, progress=say)
    if candidates is not None and not csnap.ok.any():
        msg = (f"None of the {len(cands)} candidate sites lies within {access.snap_max_m:.0f} m "
               "of the walking network; check the candidates' area and coordinate system "
               "(declare gcj02 for Amap or Tencent points, bd09 for Baidu).")
        raise NoReachableFacilityError(msg, key="candidates_far", n=len(cands),
                                       limit=f"{access.snap_max_m:.0f}")
    if cover.nnz == 0:
        msg = (f"No candidate site can reach an uncovered home within {thr:.0f} m; add "
               "candidates nearer the gaps.")
        raise NoReachableFacilityError(msg, key="candidates_reach_nothing",
                                       limit=f"{thr:.0f}")
    weights = demand["households"].to_numpy(dtype=float)
    hh = result.homes["households"].to_numpy()
    attached = result.homes["attached"].to_numpy()
    covered_before = int(hh[result.homes[f"covered_{category}"].to_numpy()].sum())
    if capacity is None and "capacity" in cands and cands["capacity"].notna().any():
        capacity = cands["capacity"].fillna(np.inf).to_numpy(dtype=float)
    if target_share is not None:
        needed = target_share * hh[attached].sum() - covered_before
        say("solving the set-covering model")
        exact = set_cover(cover, weights, needed=needed, time_limit_s=limit)
        greedy = exact
    else:
        model = MaxCoverageModel.from_coverage(cover, weights, p=k,
                                               capacity=capacity)
        greedy = model.greedy()
        say(f"greedy: {greedy.objective:.0f} households; solving exactly")
        exact = model.solve(time_limit_s=limit)
    chosen = exact.chosen
    sites = cands.iloc[chosen].copy()
    sites["rank"] = np.arange(1, len(chosen) + 1)
    sites["gain_households"] = exact.gains
    sites["category"] = category
    sites["name"] = [f"new {category} {i}" for i in sites["rank"]]
    for label, gdf in (zones or {}).items():
        joined = gpd.sjoin(sites[[sites.geometry.name]], gdf[["name", gdf.geometry.name]]
                           .to_crs(sites.crs), predicate="within", how="left")
        joined = joined[~joined.index.duplicated()]
        sites[label] = joined["name"].to_numpy()
    say("checking the proposal with the coverage engine")
    new_fac = gpd.GeoDataFrame({"category": category, "name": sites["name"].to_numpy()},
                               geometry=sites.geometry.to_numpy(), crs=sites.crs)
    both = gpd.GeoDataFrame(pd.concat([result.facilities[["category", "name", "geometry"]],
                                       new_fac], ignore_index=True), crs=sites.crs)
    check = compute_coverage(access, both, settings, categories=[category], metres=thr,
                             profile=result.profile)
    covered_after = int(check.homes["households"].to_numpy()[
        check.homes[f"covered_{category}"].to_numpy()].sum())
    circles = gpd.GeoSeries([category_circle(access, new_fac.iloc[[i]], category, thr,
                                             settings) for i in range(len(new_fac))],
                            index=sites.index, crs=sites.crs)
    return SitingPlan(category=category, sites=gpd.GeoDataFrame(sites, crs=cands.crs),
                      circles=circles, greedy=greedy, exact=exact, before=covered_before,
                      after=covered_after, candidates=cands)
