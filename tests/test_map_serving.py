"""How the app serves maps to many sessions: scripts as files, circles drawn once."""

from __future__ import annotations

import json
import os
import threading
import time

import pytest


def test_a_map_script_is_written_once_and_run_by_a_short_line(tmp_path, monkeypatch):
    import views.widgets as w

    monkeypatch.setattr(w, "MAP_SCRIPTS", tmp_path / "maps")
    script = 'var map_div = L.map("map_div"); var name = "长江路 </script>";'
    loader, links = w.served_script(script)
    files = list((tmp_path / "maps").glob("*.js"))
    assert len(files) == 1 and links == [f"{w.MAP_SCRIPTS_URL}/{files[0].name}"]
    digest = files[0].stem
    assert loader == f'(0, eval)(window.scMaps["{digest}"]);' and len(loader) < 80
    text = files[0].read_text(encoding="utf-8")
    value = text.split(f'window.scMaps["{digest}"] = ', 1)[1].rstrip().rstrip(";")
    assert json.loads(value) == script  # the script itself, as a JS string
    # Shown again: the same file, nothing written twice; another map: another file.
    assert w.served_script(script) == (loader, links)
    assert len(list((tmp_path / "maps").glob("*.js"))) == 1
    assert w.served_script(script + " ")[0] != loader
    assert not list((tmp_path / "maps").glob(".*"))  # no temporary file left


def test_old_map_scripts_are_removed_and_an_unwritable_folder_sends_the_script(
        tmp_path, monkeypatch):
    import views.widgets as w

    monkeypatch.setattr(w, "MAP_SCRIPTS", tmp_path / "maps")
    monkeypatch.setattr(w, "KEEP_MAP_SCRIPTS", 3)
    first, _links = w.served_script("var a = 0;")
    for i in range(1, 5):
        time.sleep(0.01)
        w.served_script(f"var a = {i};")
    assert len(list((tmp_path / "maps").glob("*.js"))) == 3
    assert not (tmp_path / "maps" / (first.split('"')[1] + ".js")).exists()  # the oldest
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setattr(w, "MAP_SCRIPTS", blocker / "maps")  # cannot be made
    assert w.served_script("var b = 1;") == ("var b = 1;", [])


def test_a_circle_asked_for_by_many_sessions_is_drawn_once(monkeypatch):
    import views.state as s

    drawn = []

    def slow(study, used, category, metres):
        drawn.append(category)
        time.sleep(0.3)
        return f"circle of {category}"

    monkeypatch.setattr(s, "_draw_circle", slow)
    jobs = s.CircleJobs()
    got = []
    threads = [threading.Thread(target=lambda: got.append(
        jobs.job(None, ("area",), "health", 800.0).result())) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert got == ["circle of health"] * 8 and drawn == ["health"]
    # Drawn on the caller's thread when new; found when another drew it.
    assert jobs.here(None, ("area",), "health", 800.0) == "circle of health"
    assert jobs.here(None, ("area",), "catering", 800.0) == "circle of catering"
    assert drawn == ["health", "catering"]
    # A session that does not wait sees it is not drawn yet, then drawn.
    fut = jobs.job(None, ("area",), "elderly_care", 800.0)
    with pytest.raises(TimeoutError):
        fut.result(timeout=0.01)
    assert fut.result(timeout=5) == "circle of elderly_care"


def test_a_view_waits_for_a_circle_only_where_circles_come_quickly(monkeypatch):
    import views.state as s

    took = {"quick": 0.02, "city": 0.4}

    def draw(study, used, category, metres):
        time.sleep(took[used[0]])
        return f"{used[0]} {category}"

    jobs = s.CircleJobs()
    monkeypatch.setattr(s, "_draw_circle", draw)
    monkeypatch.setattr(s, "circle_jobs", lambda: jobs)
    for area in ("quick", "city"):  # the first circle of an area: waited for
        assert s.ready_circle(None, (area,), "health", 800.0, wait_s=1.0) == (
            f"{area} health", True)
    # Later circles: the default area's still waited for; a city's map goes out at once
    # (its circle joins it when drawn).
    assert s.ready_circle(None, ("quick",), "catering", 800.0, wait_s=0.25) == (
        "quick catering", True)
    t0 = time.perf_counter()
    assert s.ready_circle(None, ("city",), "catering", 800.0, wait_s=0.25) == (None, False)
    assert time.perf_counter() - t0 < 0.2  # did not wait the 0.25 s
    assert jobs.job(None, ("city",), "catering", 800.0).result(timeout=5) == "city catering"
    # One circle slowed (a busy machine) does not stop the waiting where they are quick.
    took["quick"] = 0.4
    jobs.here(None, ("quick",), "daily_retail", 800.0)
    assert jobs.worth_waiting(("quick",), 0.25) and not jobs.worth_waiting(("city",), 0.25)


def test_work_ahead_runs_once_each_at_the_lowest_priority():
    import views.state as s

    ahead = s.AheadWork()
    seen: list[tuple[str, int]] = []
    done = threading.Event()

    def record(name):
        seen.append((name, os.getpriority(os.PRIO_PROCESS, threading.get_native_id())))
        if name == "last":
            done.set()

    def fail():
        msg = "no circle"
        raise RuntimeError(msg)

    ahead.submit(("a",), lambda: record("a"))
    ahead.submit(("a",), lambda: record("a again"))
    ahead.submit(("b",), fail)
    ahead.submit(("c",), lambda: record("last"))
    assert done.wait(10)
    assert [n for n, _p in seen] == ["a", "last"]
    assert all(p == 19 for _n, p in seen)  # nice 19 for its thread only
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) < 19
    # Work that failed may be queued again; work that ran is not.
    done.clear()
    ahead.submit(("b",), lambda: record("b"))
    ahead.submit(("z",), lambda: record("last"))
    assert done.wait(10)
    assert [n for n, _p in seen] == ["a", "last", "b", "last"]


def test_work_ahead_waits_while_a_user_run_is_in_progress():
    import views.state as s

    ahead = s.AheadWork()
    started = threading.Event()
    with ahead.user_run():
        ahead.submit(("x",), started.set)
        # Not started while a user's page run is in progress.
        assert not started.wait(0.5)
        with ahead.user_run():  # two sessions' runs at once
            pass
        assert not started.wait(0.2)
    assert started.wait(5)  # the run ended: the work starts
