"""Gap areas and site selection: hand-made instances with known optima, brute force."""

from __future__ import annotations

import itertools

import geopandas as gpd
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from gis._errors import InputError, NoReachableFacilityError
from gis.analysis.coverage import (
    CoverageOptions,
    compute_coverage,
)
from gis.analysis.gaps import find_gaps, gap_table
from gis.network.graph import network_from_streets
from gis.planning.model import MaxCoverageModel, set_cover
from gis.planning.siting import coverage_matrix, plan_sites
from tests.conftest import UTM, access_of, points, streets


def _cover(rows):
    return sp.csr_matrix(np.array(rows, dtype=bool))


def test_one_site_takes_the_larger_cluster_and_two_take_both():
    # Demand: cluster A (3 homes, 300 households), cluster B (2 homes, 500 households).
    # Candidate 0 covers A, candidate 1 covers B, candidate 2 covers one home of each.
    cover = _cover([[1, 0, 1], [1, 0, 0], [1, 0, 0], [0, 1, 1], [0, 1, 0]])
    w = np.array([100, 100, 100, 250, 250])
    one = MaxCoverageModel.from_coverage(cover, w, p=1).solve()
    assert one.chosen.tolist() == [1]
    assert one.objective == 500
    two = MaxCoverageModel.from_coverage(cover, w, p=2).solve()
    assert sorted(two.chosen.tolist()) == [0, 1]
    assert two.objective == 800
    assert two.gains.tolist() == [500, 300]
    assert two.optimal


def test_greedy_can_trail_the_exact_optimum():
    # Greedy takes the big middle site first and then can add only a little.
    cover = _cover([[1, 1, 0], [1, 1, 0], [1, 0, 1], [1, 0, 1], [0, 1, 0], [0, 0, 1]])
    w = np.array([10, 10, 10, 10, 9, 9])
    model = MaxCoverageModel.from_coverage(cover, w, p=2)
    assert model.greedy().objective == 49
    assert model.solve().objective == 58


def test_capacity_limits_what_one_site_serves():
    cover = _cover([[1, 0], [1, 0], [1, 1]])
    w = np.array([100, 100, 100])
    free = MaxCoverageModel.from_coverage(cover, w, p=1).solve()
    assert free.objective == 300
    capped = MaxCoverageModel.from_coverage(cover, w, p=1, capacity=150).solve()
    assert capped.objective == pytest.approx(150)
    both = MaxCoverageModel.from_coverage(cover, w, p=2, capacity=150).solve()
    assert both.objective == pytest.approx(250)


def test_set_cover_finds_the_fewest_sites_for_a_target():
    cover = _cover([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 1, 1]])
    w = np.array([50, 30, 30, 40])
    res = set_cover(cover, w, needed=100)
    assert len(res.chosen) == 2
    assert res.objective >= 100
    with pytest.raises(InputError, match="reach only 150"):
        set_cover(cover, w, needed=151)


def test_more_sites_than_candidates_is_refused():
    with pytest.raises(InputError, match="only 2 candidates"):
        MaxCoverageModel.from_coverage(_cover([[1, 0]]), np.array([1.0]), p=3)


def test_cost_matrix_constructor_matches_coverage():
    cost = np.array([[5.0, 12.0], [11.0, 9.0]])
    model = MaxCoverageModel.from_cost_matrix(cost, np.array([3.0, 4.0]), service_min=10, p=1)
    assert model.cover.toarray().tolist() == [[True, False], [False, True]]
    assert model.solve().chosen.tolist() == [1]


@st.composite
def instances(draw):
    n = draw(st.integers(1, 9))
    m = draw(st.integers(1, 7))
    cells = draw(st.lists(st.booleans(), min_size=n * m, max_size=n * m))
    w = draw(st.lists(st.integers(1, 50), min_size=n, max_size=n))
    p = draw(st.integers(1, m))
    return np.array(cells).reshape(n, m), np.array(w, dtype=float), p


@hyp_settings(max_examples=120, deadline=None)
@given(inst=instances())
def test_milp_equals_brute_force_and_greedy_never_beats_it(inst):
    cover, w, p = inst
    model = MaxCoverageModel.from_coverage(cover, w, p=p)
    best = max(w[cover[:, list(c)].any(axis=1)].sum()
               for c in itertools.combinations(range(cover.shape[1]), p))
    exact = model.solve()
    assert exact.objective == pytest.approx(best)
    assert model.greedy().objective <= exact.objective + 1e-9
    # The reported objective is what the chosen sites really cover.
    assert w[cover[:, exact.chosen].any(axis=1)].sum() == pytest.approx(exact.objective)


# --- gaps along the network ----------------------------------------------------------


@pytest.fixture
def river_town(settings):
    """Two parallel streets 150 m apart joined only at their west end (a river between).

        (0,150) --------------------------- (1000,150)  north bank
          |
        (0,0)  ---------------------------- (1000,0)    south bank
    """
    return network_from_streets(streets([(0, 0), (1000, 0)], [(0, 150), (1000, 150)],
                                        [(0, 0), (0, 150)]))


def test_gaps_link_homes_along_streets_not_across_the_river(river_town, settings):
    homes = points([(900, -10), (950, -10), (900, 160)], households=[10, 20, 40])
    fac = points([(0, -5)], category=["health"], name=["clinic"])
    res = compute_coverage(access_of(river_town, homes, settings), fac, settings,
                           CoverageOptions(categories=["health"], metres=300))
    gaps = find_gaps(res, "health", settings, link_m=200)
    ids = gaps.homes["gap_id"].tolist()
    # The two south-bank homes are 50 m apart along the street: one gap. The north-bank
    # home is 170 m away as the crow flies but 1,970 m along the streets: its own gap.
    assert ids[0] == ids[1] != ids[2]
    areas = gaps.areas.set_index("gap_id")
    assert areas.loc[ids[0], "households"] == 30
    assert areas.loc[ids[0], "nearest_facility"] == "clinic"
    assert areas.loc[ids[0], "nearest_dist_m"] == pytest.approx(10 + 900 + 5)
    assert areas.loc[ids[0], "extra_min"] == pytest.approx((915 - 300) / 80)
    # Ranked by uncovered households.
    assert gaps.areas["households"].tolist() == [40, 30]


def test_gap_table_ranks_zones_by_uncovered_households(river_town, settings):
    homes = points([(900, -10), (950, -10), (900, 160)], households=[10, 20, 40])
    fac = points([(0, -5)], category=["health"], name=["clinic"])
    res = compute_coverage(access_of(river_town, homes, settings), fac, settings,
                           CoverageOptions(categories=["health"], metres=300))
    gaps = find_gaps(res, "health", settings)
    zones = gpd.GeoDataFrame({"name": ["南岸", "北岸"]},
                             geometry=gpd.GeoSeries.from_wkt(
                                 ["POLYGON((-50 -50, 1050 -50, 1050 30, -50 30, -50 -50))",
                                  "POLYGON((-50 30, 1050 30, 1050 220, -50 220, -50 30))"]),
                             crs=UTM)
    table = gap_table(gaps, zones)
    assert table["name"].tolist() == ["北岸", "南岸"]
    assert table["households_uncovered"].tolist() == [40, 30]


def test_coverage_matrix_counts_access_legs(river_town, settings):
    homes = points([(500, -30), (500, 180)], households=[1, 1])
    cands = points([(500, 0), (500, 150)])
    cover, _snap = coverage_matrix(access_of(river_town, homes, settings, snap_max_m=250), cands,
                                   40)
    assert cover.toarray().tolist() == [[True, False], [False, True]]


def test_candidates_far_from_the_network_are_reported(river_town, settings):
    homes = points([(900, -10)], households=[10])
    fac = points([(0, -5)], category=["health"], name=["clinic"])
    res = compute_coverage(access_of(river_town, homes, settings), fac, settings,
                           CoverageOptions(categories=["health"], metres=300))
    far = points([(50_000, 50_000)])
    with pytest.raises(NoReachableFacilityError, match="gcj02"):
        plan_sites(res, "health", settings, k=1, candidates=far)


def test_plan_sites_is_confirmed_by_the_engine(river_town, settings):
    homes = points([(900, -10), (950, -10), (900, 160), (100, 160)],
                   households=[10, 20, 40, 5])
    fac = points([(0, -5)], category=["health"], name=["clinic"])
    res = compute_coverage(access_of(river_town, homes, settings), fac, settings,
                           CoverageOptions(categories=["health"], metres=300))
    plan = plan_sites(res, "health", settings, k=1)
    assert plan.before == 5
    # One site on the south bank near x=900 covers 30; the north-bank home of 40 lies
    # 1,000 m+ from the south bank along the streets, so the best single site is north.
    assert plan.exact.objective == 40
    assert plan.newly_covered == plan.exact.objective
    assert len(plan.circles) == 1 and plan.circles.iloc[0].area > 0


def test_solver_time_out_returns_the_best_found_and_says_so():
    rng = np.random.default_rng(3)
    cover = sp.csr_matrix(rng.random((400, 300)) < 0.05)
    w = rng.integers(1, 100, 400).astype(float)
    res = MaxCoverageModel.from_coverage(cover, w, p=8).solve(time_limit_s=1e-6)
    greedy = MaxCoverageModel.from_coverage(cover, w, p=8).greedy()
    assert not res.optimal
    assert res.objective >= greedy.objective
    assert res.message


def test_a_large_model_solved_apart_gives_the_same_optimum(monkeypatch):
    import gis.planning.model

    rng = np.random.default_rng(5)
    cover = sp.csr_matrix(rng.random((60, 25)) < 0.12)
    w = rng.integers(1, 50, 60).astype(float)
    here = MaxCoverageModel.from_coverage(cover, w, p=3).solve()
    assert here.optimal
    # Every model counts as large: it is solved in a child process stopped at the limit;
    # the bound is made to prove nothing, so that the MILP runs.
    monkeypatch.setattr(gis.planning.model, "SOLVE_APART_NNZ", 0)
    monkeypatch.setattr(gis.planning.model, "lagrangian_bound", lambda cov, w, p, **_: (
        gis.planning.model.LagrangianBound(float(w.sum()), np.zeros(0, dtype=np.int64), 0.0, 0)))
    apart = MaxCoverageModel.from_coverage(cover, w, p=3).solve()
    assert apart.method == "milp" and apart.optimal
    assert apart.objective == pytest.approx(here.objective)


def test_the_lagrangian_bound_leaves_the_callers_matrix_as_it_was():
    # A float CSR matrix with an explicit zero: the bound drops the zero from its own
    # copy (a cover it does not give), never from the arrays the caller holds.
    from gis.planning.model import lagrangian_bound

    cover = sp.csr_matrix(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
    cover.data[0] = 0.0  # row 0: an explicit zero, covered by no candidate
    before = (cover.indptr.copy(), cover.indices.copy(), cover.data.copy())
    bound = lagrangian_bound(cover, np.array([5.0, 1.0, 1.0]), 1)
    assert bound.lower == 2.0  # rows 1 and 2 through candidate 1; row 0 by none
    for now, was in zip((cover.indptr, cover.indices, cover.data), before, strict=True):
        assert np.array_equal(now, was)


@given(seed=st.integers(0, 10_000), p=st.integers(1, 4))
@hyp_settings(max_examples=40, deadline=None)
def test_the_lagrangian_bound_brackets_the_optimum(seed, p):
    from gis.planning.model import lagrangian_bound

    rng = np.random.default_rng(seed)
    n, m = 30, 9
    cover = sp.csr_matrix(rng.random((n, m)) < 0.25)
    w = rng.integers(1, 40, n).astype(float)
    best = max(w[np.asarray(cover[:, list(c)].sum(axis=1)).ravel() > 0].sum()
               for c in itertools.combinations(range(m), p))
    bound = lagrangian_bound(cover, w, p)
    assert bound.lower <= best + 1e-9 <= bound.upper + 2e-9
    # The solution it reports covers what it says.
    cols = bound.chosen
    assert len(cols) == p
    assert w[np.asarray(cover[:, cols].sum(axis=1)).ravel() > 0].sum() == bound.lower
    # The solver's answer is the brute-force optimum whenever it says it is proven.
    res = MaxCoverageModel.from_coverage(cover, w, p=p).solve()
    assert res.objective <= best + 1e-9
    if res.optimal:
        assert res.objective == pytest.approx(best)
    else:
        assert 0 <= res.mip_gap and res.objective >= (1 - res.mip_gap) * best - 1e-6


def test_a_clustered_city_model_is_proven_by_the_bound_without_the_milp(monkeypatch):
    import gis.planning.model

    # Twelve separate neighbourhoods, each with a candidate far better than the rest: the
    # bound meets the greedy answer, and HiGHS is never started.
    rng = np.random.default_rng(3)
    blocks = []
    for _ in range(12):
        sub = rng.random((40, 15)) < 0.15
        sub[:, 0] = rng.random(40) < 0.9
        blocks.append(sp.csr_matrix(sub))
    cover = sp.block_diag(blocks).tocsr()
    w = rng.integers(1, 30, cover.shape[0]).astype(float)

    def no_milp(*_a, **_k):
        msg = "the MILP should not be needed"
        raise AssertionError(msg)

    monkeypatch.setattr(gis.planning.model, "_milp", no_milp)
    monkeypatch.setattr(gis.planning.model, "_milp_with_deadline", no_milp)
    # The bound on the model with every candidate is enough: the dominance test (a
    # sparse product of the whole cover with itself) is not run either.
    monkeypatch.setattr(MaxCoverageModel, "_undominated", no_milp)
    res = MaxCoverageModel.from_coverage(cover, w, p=5).solve()
    assert res.optimal and res.method == "lagrangian" and res.mip_gap == 0
    assert res.model_size["candidates_kept"] == int((cover.getnnz(axis=0) > 0).sum())
