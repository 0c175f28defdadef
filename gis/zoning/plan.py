"""The grid plan: blocks labelled with their community and grid, codes and summaries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.settings import GridRules
from gis.zoning.blocks import Blocks, polsby_popper

# -- plans ----------------------------------------------------------------------------


@dataclass(frozen=True)
class GridPlan:
    """Communities and grids as block assignments; immutable, so edits make new plans.

    Attributes
    ----------
    blocks
        The street blocks.
    community, grid
        Label per block (-1: in none, e.g. a block with no homes that touches none).
    community_names, grid_names
        Display names per label.
    grid_community
        The community of each grid label.
    workers
        Grid worker (name, phone) per grid label: personal data, kept out of maps.
    rules
        Sizes the plan was made for.
    """

    blocks: Blocks
    community: np.ndarray
    grid: np.ndarray
    community_names: dict[int, str]
    grid_names: dict[int, str]
    grid_community: dict[int, int]
    rules: GridRules
    workers: dict[int, tuple[str, str]] = field(default_factory=dict)
    community_codes: dict[int, str] = field(default_factory=dict)
    grid_codes: dict[int, str] = field(default_factory=dict)

    def with_codes(self) -> GridPlan:
        """Return the plan with a code for every community and grid that has none.

        Codes follow CJ/T 349-2010: ``rules.code_prefix`` (division and street codes),
        a 3-digit community number, then a 3-digit grid number within the community.
        Existing codes never change; a new grid takes the next free number.

        Returns
        -------
        GridPlan
            The plan with a code for every community and grid (kept ones unchanged).
        """
        comm = {c: v for c, v in self.community_codes.items() if c in self.community_names}
        last = max((int(v[-3:]) for v in comm.values()), default=0)
        for c in sorted(self.community_names):
            if c not in comm:
                last += 1
                comm[c] = f"{self.rules.code_prefix}{last:03d}"
        grid = {g: v for g, v in self.grid_codes.items() if g in self.grid_names}
        # The highest number used under each community code, found once per community
        # (not by a scan of every code per new grid: 0.7 s for Porto's 2,764 grids).
        last_in: dict[str, int] = {}
        for g in sorted(self.grid_names):
            if g not in grid:
                c_code = comm[self.grid_community[g]]
                if c_code not in last_in:
                    last_in[c_code] = max((int(v[-3:]) for v in grid.values()
                                           if v.startswith(c_code)), default=0)
                last_in[c_code] += 1
                grid[g] = f"{c_code}{last_in[c_code]:03d}"
        return self.replace(community_codes=comm, grid_codes=grid)

    def replace(self, **changes: Any) -> GridPlan:
        """Return a copy with some fields changed.

        Parameters
        ----------
        **changes
            Fields and their new values.

        Returns
        -------
        GridPlan
            A new plan.
        """
        from dataclasses import replace

        return replace(self, **changes)

    def to_state(self) -> dict[str, object]:
        """Return the plan's assignments and names as plain values (no geometry).

        Returns
        -------
        dict
            Labels, names, codes and workers (JSON-ready); see :meth:`from_state`.
        """
        return {"community": [int(v) for v in self.community],
                "grid": [int(v) for v in self.grid],
                "community_names": {int(k): v for k, v in self.community_names.items()},
                "grid_names": {int(k): v for k, v in self.grid_names.items()},
                "grid_community": {int(k): int(v) for k, v in self.grid_community.items()},
                "workers": {int(k): list(v) for k, v in self.workers.items()},
                "community_codes": {int(k): v for k, v in self.community_codes.items()},
                "grid_codes": {int(k): v for k, v in self.grid_codes.items()}}

    @classmethod
    def from_state(cls, blocks: Blocks, rules: GridRules, state: dict[str, Any]) -> GridPlan:
        """Rebuild a plan from :meth:`to_state` values and its blocks.

        Parameters
        ----------
        blocks
            The blocks the labels refer to.
        rules
            The plan's rules.
        state
            Values of :meth:`to_state`.

        Returns
        -------
        GridPlan
            The plan.
        """
        def ints(d: dict[Any, Any]) -> dict[int, Any]:
            return {int(k): v for k, v in d.items()}

        return cls(blocks, np.asarray(state["community"], dtype=np.int64),
                   np.asarray(state["grid"], dtype=np.int64),
                   {k: str(v) for k, v in ints(state["community_names"]).items()},
                   {k: str(v) for k, v in ints(state["grid_names"]).items()},
                   {k: int(v) for k, v in ints(state["grid_community"]).items()}, rules,
                   {k: (str(v[0]), str(v[1])) for k, v in ints(state.get("workers", {})).items()},
                   {k: str(v) for k, v in ints(state.get("community_codes", {})).items()},
                   {k: str(v) for k, v in ints(state.get("grid_codes", {})).items()})

    def _zones(self, kind: str) -> gpd.GeoDataFrame:
        """Return one row and outline per ``kind`` ("community" or "grid") of the plan."""
        labels, names, codes = (
            (self.community, self.community_names, self.community_codes) if kind == "community"
            else (self.grid, self.grid_names, self.grid_codes))
        b = self.blocks.gdf
        hh, bld = b["households"].to_numpy(), b["buildings"].to_numpy()
        # Each zone's blocks, in increasing order, found once (not a scan of every block
        # and two column reads per zone: 0.7 s of Porto's 2,764 grids), as _split_large
        # finds each block's homes.
        members_of = pd.Series(np.arange(labels.size)).groupby(labels).indices
        rows, geoms = [], []
        for lab in sorted(names):
            members = members_of.get(lab)
            if members is None:
                continue
            # Drawn once per set of blocks, for every plan on them (Blocks.zone_outline).
            geom = self.blocks.zone_outline(members)
            rows.append({"label": lab, "code": codes.get(lab, ""), "name": names[lab],
                         "households": int(hh[members].sum()),
                         "buildings": int(bld[members].sum()),
                         "blocks": int(members.size), "area_m2": float(shapely.area(geom)),
                         "compactness": polsby_popper(geom)})
            geoms.append(geom)
        return gpd.GeoDataFrame(rows, geometry=geoms, crs=b.crs) if rows else \
            gpd.GeoDataFrame({"label": [], "name": []}, geometry=[], crs=b.crs)

    def communities_gdf(self) -> gpd.GeoDataFrame:
        """Return one polygon per community with its numbers and flags.

        Returns
        -------
        geopandas.GeoDataFrame
            One polygon per community: ``label``, ``code``, ``name``, ``households``,
            ``buildings``, ``blocks``, ``area_m2``, ``compactness``, ``deviation`` from the
            target and ``flag`` (``split`` / ``merge`` / ``""``).
        """
        gdf = self._zones("community")
        target = self.rules.community_target_households
        if len(gdf):
            gdf["deviation"] = (gdf["households"] - target) / target
            gdf["flag"] = np.where(gdf["households"] > 1.5 * target, "split",
                                   np.where(gdf["households"] < 0.5 * target, "merge", ""))
        return gdf

    def grids_gdf(self, *, with_workers: bool = False) -> gpd.GeoDataFrame:
        """Return one polygon per grid with its numbers and range flags.

        Grid workers' names and phones are included only with ``with_workers`` (the
        project file and the table export the user asks for).

        Parameters
        ----------
        with_workers
            Include grid workers' names and phones (personal data).

        Returns
        -------
        geopandas.GeoDataFrame
            One polygon per grid with the columns of :meth:`communities_gdf`, its community and
            range flags (workers only when asked).
        """
        gdf = self._zones("grid")
        r = self.rules
        if len(gdf):
            gdf["community"] = [self.community_names.get(self.grid_community.get(int(g), -1), "")
                                for g in gdf["label"]]
            gdf["deviation"] = (gdf["households"] - r.target_households) / r.target_households
            gdf["flag"] = np.where(gdf["households"] > r.max_households, "above range",
                                   np.where(gdf["households"] < r.min_households,
                                            "below range", ""))
            if with_workers:
                gdf["worker"] = [self.workers.get(int(g), ("", ""))[0] for g in gdf["label"]]
                gdf["phone"] = [self.workers.get(int(g), ("", ""))[1] for g in gdf["label"]]
        return gdf


#: Names given to generated communities and grids, by language; the user renames them.
ZONE_NAMES = {"zh": ("社区{n}", "{community}-{n:02d}网格"),
              "en": ("Community {n}", "{community}, grid {n:02d}")}
