"""Maximal covering and set covering models and their solvers.

The maximal covering problem follows the spopt shape: a core constructor from a coverage
(or cost) matrix, then ``solve()`` returning a new frozen :class:`SitingResult`. It is
solved exactly as a mixed-integer program with HiGHS (``scipy.optimize.milp``) after a
greedy solution gives instant feedback and a Lagrangian bound that often proves it
optimal at once. The model is first made smaller without changing its optimum:

- demand points that see exactly the same candidates are merged (weights added);
- demand no candidate reaches, and candidates that reach no demand, are dropped;
- when the Lagrangian bound on that model does not prove the optimum, a candidate whose
  covered set is contained in another's is dropped (keeping at least ``p`` candidates),
  since swapping it for the larger one never lowers coverage, and the bound is tried
  again before the MILP.

Also here: the fewest sites that reach a target share of households (set covering), and
maximal covering with a capacity per site (households one station can serve).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, OptimizeResult, milp

from gis._errors import InputError
from gis.settings import PROJECT_DIR

if TYPE_CHECKING:
    pass


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

    Examples
    --------
    >>> cover = np.array([[1, 0], [1, 1], [0, 1]], dtype=bool)
    >>> model = MaxCoverageModel.from_coverage(cover, np.array([5.0, 1.0, 3.0]), p=1)
    >>> model.solve().objective  # doctest: +SKIP
    6.0
    """

    cover: sp.csr_matrix
    weights: np.ndarray
    p: int
    capacity: np.ndarray | None = None

    @classmethod
    def from_coverage(cls, cover: sp.spmatrix | np.ndarray, weights: np.ndarray, *, p: int,
                      capacity: float | np.ndarray | None = None) -> MaxCoverageModel:
        """Build the model from a demand x candidate matrix of True where covered.

        Parameters
        ----------
        cover
            Demand x candidate, True where the candidate covers the demand point.
        weights
            Households per demand point.
        p
            How many sites to choose.
        capacity
            Households one site may serve (one number or one per candidate), or None.

        Returns
        -------
        MaxCoverageModel
            The model.
        """
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
        """Build the model from walking minutes (demand x candidate) and a threshold.

        Parameters
        ----------
        cost_min
            Walking minutes, demand x candidate.
        weights
            Households per demand point.
        service_min
            Minutes within which a demand point is covered.
        p
            How many sites to choose.

        Returns
        -------
        MaxCoverageModel
            The model.
        """
        return cls.from_coverage(np.asarray(cost_min) <= service_min, weights, p=p)

    # -- greedy -----------------------------------------------------------------------

    def greedy(self) -> SitingResult:
        """Return the greedy solution: repeatedly take the site adding the most.

        Returns
        -------
        SitingResult
            The sites, their marginal gains and the households covered (not proven optimal).
        """
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

        Only for the uncapacitated model; see the module docstring. Dominated candidates
        are kept here: finding them is a sparse product of the cover with itself (2.5 s of
        Porto's 68,666 candidates), done by :meth:`solve` only when the bound needs it.

        Returns
        -------
        tuple
            The reduced cover matrix, the merged weights and the kept candidates' positions.
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
        return cov[first_row].tocsr(), w_merged, cand

    def _undominated(self, cov: sp.csr_matrix, cand: np.ndarray
                     ) -> tuple[sp.csr_matrix, np.ndarray]:
        """Drop candidates dominated by another (covered set contained in theirs)."""
        if cand.size <= self.p:
            return cov, cand
        a = cov.astype(np.float64).tocsc()
        size = np.asarray(a.sum(axis=0)).ravel()
        overlap = (a.T @ a).tocoo()
        j, k = overlap.row, overlap.col
        contained = (overlap.data == size[j]) & (j != k) & (
            (size[k] > size[j]) | ((size[k] == size[j]) & (k < j)))
        dominated = np.zeros(cand.size, dtype=bool)
        dominated[j[contained]] = True
        if (~dominated).sum() < self.p:
            return cov, cand
        keep = np.flatnonzero(~dominated)
        return cov[:, keep].tocsr(), cand[keep]

    def solve(self, *, time_limit_s: float = 30.0) -> SitingResult:
        """Solve exactly with HiGHS (``scipy.optimize.milp``) on the reduced model.

        When the time limit is reached, the best solution found is returned with
        ``optimal=False`` and the solver's optimality gap.

        Parameters
        ----------
        time_limit_s
            Seconds the solver may take.

        Returns
        -------
        SitingResult
            The sites, their gains, whether proven optimal and the proven gap.
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
        # optimal, or gives a gap, in a few sparse products instead of a MILP. Tried first
        # on the model with every candidate (the proof needs no dominance test), then, if
        # that was not enough, on the model without the dominated candidates.
        bound = lagrangian_bound(cov, w, self.p, lower=greedy.objective,
                                 iterations=FIRST_BOUND_ITERATIONS,
                                 time_limit_s=min(10.0, time_limit_s / 3))
        upper, its = bound.upper, bound.iterations
        low, best_cols = bound.lower, cand[bound.chosen]
        if not _proven(upper, max(low, greedy.objective), w):
            cov, cand = self._undominated(cov, cand)
            m = cov.shape[1]
            size = {**size, "candidates_kept": int(m)}
            again = lagrangian_bound(cov, w, self.p, lower=max(low, greedy.objective),
                                     time_limit_s=min(10.0, time_limit_s / 3))
            upper, its = min(upper, again.upper), its + again.iterations
            if again.lower > low:
                low, best_cols = again.lower, cand[again.chosen]
        best = self._finish(best_cols, "lagrangian", False, np.nan, t0, "", size)
        size = {**size, "lagrangian_iterations": its}
        lb = max(best.objective, greedy.objective)
        gap = _relative_gap(upper, lb)
        if _proven(upper, lb, w):
            src = best if best.objective >= greedy.objective else greedy
            return SitingResult(src.chosen, src.gains, src.objective, "lagrangian", True, 0.0,
                                time.perf_counter() - t0,
                                f"optimal: the Lagrangian bound {upper:.1f} equals the "
                                "best solution", size)
        if cov.nnz > SOLVE_APART_NNZ and gap <= LARGE_MODEL_GAP:
            # A model this large would spend the whole limit in HiGHS' presolve and root LP
            # (seen: 45 s and no solution on Porto); the bound already says how far off.
            src = best if best.objective >= greedy.objective else greedy
            return SitingResult(src.chosen, src.gains, src.objective, "lagrangian", False, gap,
                                time.perf_counter() - t0,
                                f"within {gap:.2%} of the best possible (Lagrangian bound "
                                f"{upper:.1f})", size)
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
                                 _relative_gap(upper, best_obj)])
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
                   options=solver_options(time_limit_s))
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
def solver_options(time_limit_s: float) -> dict[str, object]:
    """Return HiGHS' options for every MILP here: proven optimal (no gap), quiet, bounded.

    Parameters
    ----------
    time_limit_s
        Seconds HiGHS may take; past them the best solution found is returned with its gap.

    Returns
    -------
    dict
        Options for :func:`scipy.optimize.milp`.
    """
    return {"time_limit": time_limit_s, "mip_rel_gap": 0.0, "disp": False}


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
    # A copy: dropping explicit zeros works in place, on arrays shared with ``cov``.
    a = sp.csr_matrix(cov, dtype=np.float64, copy=True)
    a.eliminate_zeros()
    at = a.T.tocsr()  # its rows are the candidates' columns of ``a``
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
        # The demand rows the chosen candidates cover, from their rows in ``at``: a CSR
        # column slice of ``a`` took 13 ms a step on Porto, this a few microseconds.
        hits = np.bincount(np.concatenate([at.indices[at.indptr[c]:at.indptr[c + 1]]
                                           for c in cols] or [np.zeros(0, np.int64)]),
                           minlength=a.shape[0])
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


#: Subgradient steps of the first bound, on the model that still has dominated candidates
#: (Porto's health sites: proven optimal in 44).
FIRST_BOUND_ITERATIONS = 100

#: Models with more cover entries than this are solved in a child process that is stopped
#: at the time limit: on a large model HiGHS can spend minutes in presolve and the root
#: LP before it looks at its own limit (seen: 85 s against a 10 s limit on Porto).
SOLVE_APART_NNZ = 300_000


def _milp(c: np.ndarray, link: sp.csr_matrix, count: sp.csr_matrix, p: int,
          integrality: np.ndarray, time_limit_s: float) -> OptimizeResult:
    """Solve the maximal covering MILP with HiGHS (scipy.optimize.milp)."""
    return milp(c, constraints=[LinearConstraint(link, -np.inf, 0.0),
                                LinearConstraint(count, p, p)],
                integrality=integrality, bounds=Bounds(0.0, 1.0),
                options=solver_options(time_limit_s))


def _milp_with_deadline(c: np.ndarray, link: sp.csr_matrix, count: sp.csr_matrix, p: int,
                        integrality: np.ndarray, time_limit_s: float) -> OptimizeResult:
    """Run :func:`_milp` in a child process and stop it when the time limit has passed.

    Returns the solver's result, or a result with no solution and a message when the
    child had to be stopped (the caller then shows the greedy answer and says so).
    """
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        model, result = Path(d) / "model.npz", Path(d) / "result.npz"
        np.savez(model, c=c, link_data=link.data, link_indices=link.indices,
                 link_indptr=link.indptr, link_shape=np.asarray(link.shape),
                 count=count.toarray().ravel(), p=p, integrality=integrality,
                 time_limit_s=time_limit_s)
        child = subprocess.Popen([sys.executable, "-m", "gis.planning._milp_child", str(model),
                                  str(result)], cwd=PROJECT_DIR,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            # Starting the child and reading the model take a few seconds of their own.
            child.wait(timeout=time_limit_s + 15.0)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        if child.returncode != 0 or not result.exists():
            return OptimizeResult(
                x=None, status=1, mip_gap=np.nan,
                message=f"time limit of {time_limit_s:.0f} s reached before the solver "
                        "found a solution; stopped")
        out = np.load(result)
        return OptimizeResult(x=out["x"] if bool(out["has_x"]) else None,
                               status=int(out["status"]), mip_gap=float(out["mip_gap"]),
                               message=str(out["message"]))


def set_cover(cover: sp.spmatrix, weights: np.ndarray, *, needed: float,
              time_limit_s: float = 30.0) -> SitingResult:
    """Return the fewest candidates that together cover at least ``needed`` weight.

    Parameters
    ----------
    cover
        Demand x candidate, True where covered.
    weights
        Households per demand point.
    needed
        The weight to reach.
    time_limit_s
        Seconds the solver may take.

    Returns
    -------
    SitingResult
        The fewest sites, best first.

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
               options=solver_options(time_limit_s))
    if res.x is None:
        msg = f"The set-covering solver found no solution in {time_limit_s:.0f} s ({res.message})."
        raise InputError(msg)
    chosen = np.flatnonzero(res.x[:m] > 0.5)
    model = MaxCoverageModel.from_coverage(cov, w, p=max(1, chosen.size))
    out = model._finish(chosen, "set_cover", res.status == 0, 0.0 if res.status == 0
                        else float(getattr(res, "mip_gap", np.nan)), t0, res.message,
                        {"demand_rows": n, "candidates": m})
    return out
