"""Session state defaults, where the app's files are, and the study and coverage caches."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from gis import GisError
from gis.analysis.coverage import (
    CoverageOptions,
    CoverageResult,
    area_summary,
    category_circle,
    compute_coverage,
)
from gis.network.access import Access
from gis.settings import Settings, load_settings
from gis.study import Study, StudyCache


def default_source() -> str:
    """Return the study area the app opens with (``SERVICE_CIRCLE_SOURCE``, read per run)."""
    return os.environ.get("SERVICE_CIRCLE_SOURCE", "default")


def shared_project_path(kind: str) -> Path:
    """Return the shared project file of ``kind`` (``scenarios`` or ``grids``).

    ``SERVICE_CIRCLE_PROJECT`` and ``SERVICE_CIRCLE_GRIDS`` name them; read on every run,
    as the script's own globals were.
    """
    if kind == "scenarios":
        return Path(os.environ.get("SERVICE_CIRCLE_PROJECT", "projects/project.gpkg"))
    return Path(os.environ.get("SERVICE_CIRCLE_GRIDS", "projects/grids_project.gpkg"))


#: "auto": the file's own coordinate system (a projected one, e.g. UTM or CGCS2000
#: Gauss-Krueger, as on the command line); "epsg": a code the user types.
CRS_CHOICES = ("auto", "wgs84", "gcj02", "bd09", "cgcs2000", "epsg")
UPLOAD_TYPES = ["gpkg", "geojson", "json", "zip", "csv"]
#: What a click on the grids map does.
GRID_CLICKS = ("select", "move")


def init_state(settings: Settings) -> None:
    """Set every session-state default once: small, plain values only."""
    for key, value in session_defaults(settings).items():
        st.session_state.setdefault(key, value)


def session_defaults(settings: Settings) -> dict[str, object]:
    """Return what a new session starts with (also what the server's warm-up draws)."""
    return {
        "lang": "zh",
        "category": settings.category_ids[0],
        "threshold_mode": "minutes",
        "gates": "off",
        "threshold_min": float(settings.threshold_min),
        "threshold_m": 800.0,
        "profile": settings.default_profile,
        "basemap": "osm",
        "facilities_crs": "auto",
        "buildings_crs": "auto",
        "good_inputs": (default_source(), None, None, None, None, None, None),
        "upload_session": "",
        "upload_gen": {},
        "upload_files": {},
        "refused": None,
        "view": "coverage",
        "k": 3,
        "proposal": None,
        "changes": [],
        "scenario_name": "",
        "grid_target": settings.grids.target_households,
        "grid_min": settings.grids.min_households,
        "grid_max": settings.grids.max_households,
        "comm_target": settings.grids.community_target_households,
        "grid_editor": None,
        "grid_rules": None,
        "grid_message": None,
        "with_workers": False,
        "grid_blocks": None,
        "grid_click": "select",
        "map_click": "look",
        "moving": None,
    }


@st.cache_resource(show_spinner=False)
def study_cache() -> StudyCache:
    """Return the one store of loaded studies (the studies in it are never mutated)."""
    return StudyCache(load_settings)


@st.cache_resource(show_spinner=False, max_entries=16)
def get_access(_study: Study, study_key: tuple, gates: str = "off") -> Access:
    """Return how the study's homes reach the streets (shared, never mutated)."""
    return _study.access(gates=gates)


@st.cache_resource(show_spinner=False, max_entries=64)
def get_coverage(_study: Study, study_key: tuple, minutes: float | None,
                 metres: float | None, profile: str, gates: str = "off") -> CoverageResult:
    """Return coverage of every category; ``study_key`` stands in for the study.

    Shared by every session and never mutated (the result carries its access model,
    which is too large to copy into each session). Another threshold or walking profile
    reuses the distances of the study's first analysis: no new search.
    """
    return get_distances(_study, study_key, gates).with_thresholds(
        load_settings(), CoverageOptions(minutes=minutes, metres=metres, profile=profile))


@st.cache_resource(show_spinner=False, max_entries=16)
def get_distances(_study: Study, study_key: tuple, gates: str = "off") -> CoverageResult:
    """Return the study's coverage at the default thresholds: its homes' distances."""
    return compute_coverage(get_access(_study, study_key, gates), _study.facilities,
                            load_settings())


@st.cache_data(show_spinner=False, max_entries=64)
def get_summary(_result: CoverageResult, key: tuple) -> pd.DataFrame:
    """Return the area summary of a coverage result (``key`` names the analysis)."""
    return area_summary(_result)


class CircleJobs:
    """The service circles of every session, each drawn once, off the script's thread.

    A city's circle takes seconds (Malta's catering: 2.3 s on 2 cores): a session asks
    for one and shows the map at once, the circle joining it when it is drawn. Each
    circle is drawn once for every session (same study, category and distance) and kept
    for the last :data:`KEEP` requests. Circles are shapely geometries: immutable.
    """

    KEEP = 64

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: OrderedDict[tuple, Future] = OrderedDict()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="circle")
        # How long the last circles of each study took to draw (seconds).
        self._seconds: dict[tuple, deque[float]] = {}

    def _draw(self, study: Study, used: tuple, category: str, metres: float) -> object:
        """Draw one circle and note how long it took for this study."""
        t0 = time.perf_counter()
        circle = _draw_circle(study, used, category, metres)
        took = time.perf_counter() - t0
        with self._lock:
            self._seconds.setdefault(used, deque(maxlen=8)).append(took)
        return circle

    def worth_waiting(self, used: tuple, wait_s: float) -> bool:
        """Return whether this study's circles are usually drawn within ``wait_s``.

        Usually: the median of its last eight circles (one slowed by a busy machine does
        not decide it). Unknown until one is drawn (then: yes). A city's circles take
        seconds: a view that waited for one would only show its map later.
        """
        with self._lock:
            took = list(self._seconds.get(used, ()))
        return not took or float(np.median(took)) <= wait_s

    def _get(self, key: tuple, make: Callable[[], Future]) -> tuple[Future, bool]:
        """Return the job of ``key`` and whether it is new (made by ``make``)."""
        with self._lock:
            fut = self._jobs.get(key)
            if fut is not None:
                self._jobs.move_to_end(key)
                return fut, False
            fut = self._jobs[key] = make()
            while len(self._jobs) > self.KEEP:
                self._jobs.popitem(last=False)
            return fut, True

    def job(self, study: Study, used: tuple, category: str, metres: float) -> Future:
        """Return the drawing of one circle, started on the circles' thread if new."""
        fut, _new = self._get((used, category, float(metres)), lambda: self._pool.submit(
            self._draw, study, used, category, float(metres)))
        return fut

    def here(self, study: Study, used: tuple, category: str, metres: float) -> object:
        """Return one circle, drawn on the calling thread if nobody drew it yet."""
        fut, new = self._get((used, category, float(metres)), Future)
        if new:
            try:
                fut.set_result(self._draw(study, used, category, float(metres)))
            except BaseException as err:  # waiting sessions see it; a rerun tries again
                fut.set_exception(err)
                raise
        return fut.result()


class AheadWork:
    """Work done ahead of the user at the lowest priority, each piece once.

    What a user will likely ask for next (the circles and map layers of the categories
    not opened yet) is prepared one piece after another on one thread at nice 19, so
    that it never slows what a user waits for: a rerun, or a browser drawing the map on
    the same machine.
    """

    #: Longest a piece of work waits for the users' runs to end (seconds).
    PATIENCE_S = 10.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done: OrderedDict[tuple, None] = OrderedDict()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ahead",
                                        initializer=_yield_to_others)
        self._idle = threading.Condition()
        self._running = 0  # users' page runs in progress

    @contextlib.contextmanager
    def user_run(self) -> Iterator[None]:
        """Mark a user's page run: no new piece of work starts until every run ends.

        The work's Python steps hold the interpreter's lock; at nice 19 its thread may
        wait long for a core while holding it, and the user's run would wait with it.
        """
        with self._idle:
            self._running += 1
        try:
            yield
        finally:
            with self._idle:
                self._running -= 1
                self._idle.notify_all()

    def _wait_for_users(self) -> None:
        """Wait until no user's run is in progress (at most :attr:`PATIENCE_S`)."""
        with self._idle:
            self._idle.wait_for(lambda: self._running == 0, timeout=self.PATIENCE_S)

    def submit(self, key: tuple, fn: Callable[[], object]) -> None:
        """Queue ``fn`` unless work of ``key`` was queued before (errors are dropped)."""
        with self._lock:
            if key in self._done:
                return
            self._done[key] = None
            while len(self._done) > 1024:
                self._done.popitem(last=False)

        def run() -> None:
            self._wait_for_users()
            try:
                fn()
            except Exception:  # noqa: BLE001 (a session asking for it sees the error)
                with self._lock:
                    self._done.pop(key, None)

        self._pool.submit(run)


@st.cache_resource(show_spinner=False)
def ahead_work() -> AheadWork:
    """Return the one queue of work done ahead for every session."""
    return AheadWork()


def _yield_to_others() -> None:
    """Give the calling thread the lowest CPU priority (Linux: nice 19 for this thread).

    Circles drawn ahead must not slow what a user waits for (a rerun, a browser drawing
    the map on the same machine); threads it starts (GEOS unions) inherit it.
    """
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except (AttributeError, OSError):  # not Linux, or not allowed: normal priority
        pass


def _draw_circle(study: Study, used: tuple, category: str, metres: float) -> object:
    """Return the union of one category's service circles (None: no facility)."""
    try:
        return category_circle(get_access(study, used), study.facilities, category, metres,
                               load_settings())
    except GisError:
        return None


@st.cache_resource(show_spinner=False)
def circle_jobs() -> CircleJobs:
    """Return the one store of service circles shared by every session."""
    return CircleJobs()


def get_circle(study: Study, study_key: tuple, category: str, threshold_m: float) -> object:
    """Return the union of one category's service circles, waiting for it (None: none)."""
    return circle_jobs().job(study, study_key, category, threshold_m).result()


#: How long a view waits for a circle before showing the map without it (seconds).
CIRCLE_WAIT_S = 0.25


def ready_circle(study: Study, study_key: tuple, category: str, threshold_m: float, *,
                 wait_s: float = CIRCLE_WAIT_S) -> tuple[object, bool]:
    """Return (the category's circle, whether it is drawn), waiting up to ``wait_s``.

    Waits only where circles are usually drawn in that time (the default area's: 0.1-0.25
    s); where they take seconds (a city's), the map goes out at once without it.
    """
    jobs = circle_jobs()
    fut = jobs.job(study, study_key, category, threshold_m)
    if not jobs.worth_waiting(study_key, wait_s):
        wait_s = 0.0
    try:
        return fut.result(timeout=wait_s), True
    except FutureTimeout:
        return None, False


def analysis_key(used: tuple, result: CoverageResult, gates: str | None = None) -> tuple:
    """Return what identifies an analysis: the study inputs, thresholds and gate choice.

    ``gates`` is the session's choice unless given (the server's warm-up has no session).
    """
    return (used,
            tuple((c, th.metres, th.speed_m_per_min) for c, th in result.thresholds.items()),
            st.session_state["gates"] if gates is None else gates)


def project_file(kind: str) -> Path:
    """Return the project file this session works on: its own copy, else the shared one.

    ``kind`` is "scenarios" (the project GeoPackage of scenarios) or "grids" (the grid
    project). A planner who opens or starts a file of their own works on it alone; the
    shared path (``SERVICE_CIRCLE_PROJECT`` / ``SERVICE_CIRCLE_GRIDS``) is the default.
    """
    own = st.session_state.get(f"own_{kind}_project")
    if own:
        return Path(own)
    return shared_project_path(kind)


def study_id(study: Study) -> str:
    """Return the name scenarios are filed under: the study area's file or place name."""
    return Path(study.source).name if Path(study.source).suffix else study.source
