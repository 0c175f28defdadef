"""Edit grids by hand with immediate checks, undo and redo.

Every edit is checked at once: a move that would break a grid into pieces, or move blocks
into a grid of another community, is refused with the reason; a grid leaving the allowed
household range is a warning, not a refusal.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gis._errors import InputError, Msg
from gis.settings import GridRules
from gis.zoning.blocks import Blocks
from gis.zoning.partition import PartitionProblem, is_contiguous, partition_blocks
from gis.zoning.plan import GridPlan


def history_record(action: str, detail: str = "") -> dict[str, str]:
    """Return one row of a plan's edit history, stamped now (the one timestamp format).

    Parameters
    ----------
    action
        What was done (``generate``, ``open``, ``move``, ``undo``, ...).
    detail
        The message saying what changed; a :class:`~gis._errors.Msg` keeps its key and
        parameters, so that the history reads in either language.

    Returns
    -------
    dict
        ``time`` (ISO 8601, seconds), ``action``, ``detail``, ``key`` and ``params`` (JSON).
    """
    return {"time": dt.datetime.now().isoformat(timespec="seconds"),
            "action": action, "detail": str(detail),
            "key": getattr(detail, "key", "") or "",
            "params": json.dumps(getattr(detail, "params", {}), ensure_ascii=False,
                                 default=str)}


@dataclass(frozen=True)
class EditResult:
    """Outcome of one edit: done or refused, with the reason and any warnings."""

    ok: bool
    message: str
    warnings: tuple[str, ...] = ()


class GridEditor:
    """Edits on a grid plan with undo and redo.

    Parameters
    ----------
    plan
        The plan to start from.
    history
        Earlier edit records (from a project file), kept and extended.
    """

    def __init__(self, plan: GridPlan, history: list[dict[str, str]] | None = None) -> None:
        self._plans = [plan]
        self._pos = 0
        self.history: list[dict[str, str]] = list(history or [])

    def to_state(self) -> dict[str, object]:
        """Return the editor as plain values, for a session to keep between reruns.

        Returns
        -------
        dict
            ``plans`` (every plan of the undo stack, :meth:`GridPlan.to_state`), ``pos``
            (the current one) and ``history``; read back by :meth:`from_state`.
        """
        return {"plans": [p.to_state() for p in self._plans], "pos": self._pos,
                "history": [dict(h) for h in self.history]}

    @classmethod
    def from_state(cls, blocks: Blocks, rules: GridRules, state: dict[str, Any]) -> GridEditor:
        """Rebuild an editor, with its undo and redo, from :meth:`to_state` values.

        Parameters
        ----------
        blocks
            The street blocks the plans label.
        rules
            The grid rules of the plans.
        state
            Values from :meth:`to_state`.

        Returns
        -------
        GridEditor
            The editor at the same step, able to undo and redo as before.

        Examples
        --------
        >>> editor = GridEditor.from_state(blocks, rules, saved)  # doctest: +SKIP
        >>> editor.undo()  # doctest: +SKIP
        True
        """
        plans = [GridPlan.from_state(blocks, rules, s) for s in state["plans"]]
        editor = cls(plans[0], state.get("history", []))
        editor._plans = plans
        editor._pos = int(state["pos"])
        return editor

    @property
    def plan(self) -> GridPlan:
        """Return the current plan."""
        return self._plans[self._pos]

    @property
    def can_undo(self) -> bool:
        """Return True when there is an edit to undo."""
        return self._pos > 0

    @property
    def can_redo(self) -> bool:
        """Return True when there is an undone edit to redo."""
        return self._pos < len(self._plans) - 1

    def undo(self) -> bool:
        """Undo the last edit; return False when there is none.

        Returns
        -------
        bool
            True when an edit was undone.
        """
        if not self.can_undo:
            return False
        self._pos -= 1
        self._log("undo", "")
        return True

    def redo(self) -> bool:
        """Redo the last undone edit; return False when there is none.

        Returns
        -------
        bool
            True when an edit was redone.
        """
        if not self.can_redo:
            return False
        self._pos += 1
        self._log("redo", "")
        return True

    def _log(self, action: str, detail: str) -> None:
        self.history.append(history_record(action, detail))

    def _commit(self, plan: GridPlan, action: str, detail: str,
                warnings: Sequence[str]) -> EditResult:
        del self._plans[self._pos + 1:]
        self._plans.append(plan.with_codes())
        self._pos += 1
        self._log(action, detail)
        return EditResult(True, detail, tuple(warnings))

    # -- checks -----------------------------------------------------------------------

    def _grid_blocks(self, plan: GridPlan, g: int) -> np.ndarray:
        return np.flatnonzero(plan.grid == g)

    def _check_grid(self, plan: GridPlan, g: int) -> None:
        if g not in plan.grid_names:
            msg = f"There is no grid {g}."
            raise InputError(msg)

    def _range_warnings(self, plan: GridPlan, grids: list[int]) -> list[Msg]:
        r = plan.rules
        out: list[Msg] = []
        hh = plan.blocks.gdf["households"].to_numpy()
        for g in grids:
            total = int(hh[plan.grid == g].sum())
            if total and not r.min_households <= total <= r.max_households:
                out.append(Msg(f"{plan.grid_names[g]} now has {total} households, outside "
                               f"the allowed {r.min_households}-{r.max_households}",
                               "out_of_range", grid=plan.grid_names[g], n=total,
                               lo=r.min_households, hi=r.max_households))
        return out

    def _positions(self, plan: GridPlan, block_ids: list[str]) -> np.ndarray:
        ids = plan.blocks.ids
        lookup = {b: i for i, b in enumerate(ids)}
        missing = [b for b in block_ids if b not in lookup]
        if missing:
            msg = f"Unknown blocks: {', '.join(missing)}."
            raise InputError(msg)
        return np.array([lookup[b] for b in block_ids], dtype=np.int64)

    # -- edits ------------------------------------------------------------------------

    def neighbour_grids(self, g: int) -> list[int]:
        """Return the grids of the same community that share a street with grid ``g``.

        Parameters
        ----------
        g
            A grid label.

        Returns
        -------
        list of int
            Grids of the same community sharing a street with it.
        """
        plan = self.plan
        nodes = self._grid_blocks(plan, g)
        near = np.unique(plan.blocks.adjacency[nodes].indices)
        found = {int(x) for x in plan.grid[near] if x >= 0 and x != g}
        comm = plan.grid_community.get(g)
        return sorted(x for x in found if plan.grid_community.get(x) == comm)

    def block_neighbour_grids(self, block_id: str) -> list[int]:
        """Return the other grids of its community a block touches (where it may move).

        Parameters
        ----------
        block_id
            A block id.

        Returns
        -------
        list of int
            Grids of the block's community, other than its own, that it touches.
        """
        plan = self.plan
        pos = list(plan.blocks.ids).index(block_id)
        own = int(plan.grid[pos])
        near = plan.blocks.neighbours(pos)
        comm = plan.grid_community.get(own)
        return sorted({int(x) for x in plan.grid[near] if x >= 0 and x != own
                       and plan.grid_community.get(int(x)) == comm})

    def move_blocks(self, block_ids: list[str], to_grid: int) -> EditResult:
        """Move blocks into a neighbouring grid of the same community.

        Parameters
        ----------
        block_ids
            Blocks to move.
        to_grid
            The grid they go to.

        Returns
        -------
        EditResult
            Done (with range warnings) or refused with the reason.
        """
        plan = self.plan
        self._check_grid(plan, to_grid)
        pos = self._positions(plan, block_ids)
        target_comm = plan.grid_community[to_grid]
        other = [plan.blocks.ids[p] for p in pos if plan.community[p] != target_comm]
        if other:
            msg = Msg(f"Refused: blocks {', '.join(other)} belong to another community than "
                      f"{plan.grid_names[to_grid]}; grids never cross a community boundary.",
                      "refuse_cross_community", blocks=", ".join(other),
                      grid=plan.grid_names[to_grid])
            return EditResult(False, msg)
        new_grid = plan.grid.copy()
        sources = sorted({int(plan.grid[p]) for p in pos if plan.grid[p] != to_grid})
        new_grid[pos] = to_grid
        adj = plan.blocks.adjacency
        if not is_contiguous(adj, np.flatnonzero(new_grid == to_grid)):
            msg = Msg(f"Refused: {plan.grid_names[to_grid]} would not be one connected area; "
                      "move only blocks that touch it along a street.",
                      "refuse_not_touching", grid=plan.grid_names[to_grid])
            return EditResult(False, msg)
        for g in sources:
            left = np.flatnonzero(new_grid == g)
            if left.size and not is_contiguous(adj, left):
                msg = Msg(f"Refused: {plan.grid_names[g]} would fall into separate pieces; "
                          "move blocks from its edge, or the piece that would be cut off too.",
                          "refuse_breaks_grid", grid=plan.grid_names[g])
                return EditResult(False, msg)
        names = dict(plan.grid_names)
        gcomm = dict(plan.grid_community)
        workers = dict(plan.workers)
        warnings: list[Msg] = []
        for g in sources:
            if not (new_grid == g).any():
                warnings.append(Msg(f"{names[g]} is now empty and was removed",
                                    "grid_emptied", grid=names[g]))
                names.pop(g)
                gcomm.pop(g)
                workers.pop(g, None)
        new = plan.replace(grid=new_grid, grid_names=names, grid_community=gcomm,
                           workers=workers)
        warnings += self._range_warnings(new, [to_grid, *[g for g in sources if g in names]])
        detail = Msg(f"moved {', '.join(block_ids)} to {plan.grid_names[to_grid]}",
                     "moved", blocks=", ".join(block_ids), grid=plan.grid_names[to_grid])
        return self._commit(new, "move", detail, warnings)

    def merge(self, keep: int, other: int) -> EditResult:
        """Merge grid ``other`` into grid ``keep`` (they must touch, in one community).

        Parameters
        ----------
        keep
            The grid kept.
        other
            The grid merged into it.

        Returns
        -------
        EditResult
            Done or refused with the reason.
        """
        plan = self.plan
        self._check_grid(plan, keep)
        self._check_grid(plan, other)
        if keep == other:
            return EditResult(False, Msg("Refused: choose two different grids to merge.",
                                         "refuse_same_grid"))
        if plan.grid_community[keep] != plan.grid_community[other]:
            return EditResult(False, Msg("Refused: the two grids are in different "
                                         "communities.", "refuse_two_communities"))
        new_grid = np.where(plan.grid == other, keep, plan.grid)
        if not is_contiguous(plan.blocks.adjacency, np.flatnonzero(new_grid == keep)):
            return EditResult(False, Msg(f"Refused: {plan.grid_names[keep]} and "
                                         f"{plan.grid_names[other]} do not touch.",
                                         "refuse_merge_apart", a=plan.grid_names[keep],
                                         b=plan.grid_names[other]))
        names = {k: v for k, v in plan.grid_names.items() if k != other}
        gcomm = {k: v for k, v in plan.grid_community.items() if k != other}
        workers = {k: v for k, v in plan.workers.items() if k != other}
        new = plan.replace(grid=new_grid, grid_names=names, grid_community=gcomm,
                           workers=workers)
        detail = Msg(f"merged {plan.grid_names[other]} into {plan.grid_names[keep]}",
                     "merged", a=plan.grid_names[other], b=plan.grid_names[keep])
        return self._commit(new, "merge", detail, self._range_warnings(new, [keep]))

    def split(self, g: int) -> EditResult:
        """Split a grid into two contiguous grids of about equal households.

        Parameters
        ----------
        g
            The grid to split in two.

        Returns
        -------
        EditResult
            Done or refused with the reason.
        """
        plan = self.plan
        self._check_grid(plan, g)
        nodes = self._grid_blocks(plan, g)
        if nodes.size < 2:
            return EditResult(False, Msg(f"Refused: {plan.grid_names[g]} is a single street "
                                         "block; it cannot be split along streets.",
                                         "refuse_single_block", grid=plan.grid_names[g]))
        b = plan.blocks.gdf.iloc[nodes]
        hh = b["households"].to_numpy(dtype=float)
        problem = PartitionProblem(plan.blocks.adjacency[nodes][:, nodes].tocsr(), hh,
                                   np.column_stack([b.geometry.centroid.x,
                                                    b.geometry.centroid.y]),
                                   b.geometry.area.to_numpy())
        half = max(hh.sum() / 2, 1.0)
        labels = partition_blocks(problem, 2, target=half, lower=0, upper=hh.sum(),
                                  compactness_weight=plan.rules.compactness_weight,
                                  max_sweeps=20)
        if len(set(labels[labels >= 0])) < 2:
            return EditResult(False, Msg(f"Refused: {plan.grid_names[g]} has no split into "
                                         "two connected parts.", "refuse_no_split",
                                         grid=plan.grid_names[g]))
        if hh[labels == 0].sum() <= 0 or hh[labels == 1].sum() <= 0:
            # A grid of no household has nobody for its worker to serve.
            return EditResult(False, Msg(f"Refused: every split of {plan.grid_names[g]} "
                                         "into two connected parts leaves one without "
                                         "households.", "refuse_empty_split",
                                         grid=plan.grid_names[g]))
        new_label = max(plan.grid_names) + 1
        new_grid = plan.grid.copy()
        new_grid[nodes[labels == 1]] = new_label
        names = dict(plan.grid_names)
        names[new_label] = f"{plan.grid_names[g]}-2"
        gcomm = dict(plan.grid_community)
        gcomm[new_label] = plan.grid_community[g]
        new = plan.replace(grid=new_grid, grid_names=names, grid_community=gcomm)
        detail = Msg(f"split {plan.grid_names[g]} into {names[g]} and {names[new_label]}",
                     "split_done", grid=plan.grid_names[g], a=names[g], b=names[new_label])
        return self._commit(new, "split", detail, self._range_warnings(new, [g, new_label]))

    def rename(self, g: int, name: str) -> EditResult:
        """Rename a grid.

        Parameters
        ----------
        g
            The grid.
        name
            Its new name.

        Returns
        -------
        EditResult
            Done or refused (an empty or taken name).
        """
        plan = self.plan
        self._check_grid(plan, g)
        name = name.strip()
        if not name:
            return EditResult(False, Msg("Refused: a grid needs a name.", "refuse_no_name"))
        if name in {v for k, v in plan.grid_names.items() if k != g}:
            return EditResult(False, Msg(f"Refused: another grid is already called {name}.",
                                         "refuse_name_taken", name=name))
        names = dict(plan.grid_names)
        old = names[g]
        names[g] = name
        return self._commit(plan.replace(grid_names=names), "rename",
                            Msg(f"renamed {old} to {name}", "renamed", old=old, new=name), [])

    def set_worker(self, g: int, name: str, phone: str) -> EditResult:
        """Set a grid's worker and phone (personal data: the history does not record them).

        Parameters
        ----------
        g
            The grid.
        name
            The grid worker's name (personal data: kept in the project file only).
        phone
            The worker's phone.

        Returns
        -------
        EditResult
            Done.
        """
        plan = self.plan
        self._check_grid(plan, g)
        workers = dict(plan.workers)
        workers[g] = (name.strip(), phone.strip())
        return self._commit(plan.replace(workers=workers), "worker",
                            Msg(f"set the grid worker of {plan.grid_names[g]}", "worker_set",
                                grid=plan.grid_names[g]), [])
