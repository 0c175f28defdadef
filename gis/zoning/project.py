"""The grid project file: a plan and its edit history, saved atomically, reopened exactly.

The project GeoPackage holds blocks (with their community and grid), their adjacency,
communities, grids (with grid workers: personal data, kept only here), the edit history
with timestamps and the rules.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import scipy.sparse as sp
import shapely

from gis._errors import InputError
from gis.data.write import sweep_temporary, write_gpkg_atomic
from gis.settings import GridRules
from gis.zoning.blocks import Blocks
from gis.zoning.editor import history_record
from gis.zoning.plan import GridPlan

# -- project file ---------------------------------------------------------------------

HISTORY_COLUMNS = ("time", "action", "detail", "key", "params")
PROJECT_LAYERS = ("blocks", "block_adjacency", "home_blocks", "communities", "grids",
                  "edit_history", "plan_info")


def save_project(path: str | Path, plan: GridPlan, history: list[dict[str, str]]) -> Path:
    """Write the plan, its blocks and the edit history into one GeoPackage, atomically.

    Parameters
    ----------
    path
        The project GeoPackage.
    plan
        The plan.
    history
        The edit history.

    Returns
    -------
    pathlib.Path
        ``path``, written atomically under the project lock.

    Examples
    --------
    >>> save_project("projects/grids_project.gpkg", editor.plan,
    ...              editor.history)  # doctest: +SKIP
    >>> plan, history = load_project("projects/grids_project.gpkg")  # doctest: +SKIP
    """
    b = plan.blocks.gdf.copy()
    b["community"] = plan.community
    b["grid"] = plan.grid
    adj = sp.triu(plan.blocks.adjacency).tocoo()
    ids = plan.blocks.ids
    rules = plan.rules
    info = pd.DataFrame([{
        "crs": pyproj.CRS(b.crs).to_wkt(),
        "rules": rules.to_json(),
        "state": json.dumps(plan.to_state(), ensure_ascii=False),
        "notes": json.dumps(list(plan.blocks.notes), ensure_ascii=False),
        "saved": history_record("save")["time"]}])
    layers = {
        "blocks": b,
        "block_adjacency": pd.DataFrame({"a": ids[adj.row], "b": ids[adj.col]}),
        "home_blocks": pd.DataFrame({"home": plan.blocks.home_block.index.astype(str),
                                     "block_id": plan.blocks.home_block.to_numpy()}),
        "communities": plan.communities_gdf(),
        "grids": plan.grids_gdf(with_workers=True),
        "edit_history": pd.DataFrame(history or [], columns=HISTORY_COLUMNS).astype(object)
        .fillna(""),
        "plan_info": info,
    }
    return write_gpkg_atomic(path, layers)


def load_project(path: str | Path) -> tuple[GridPlan, list[dict[str, str]]]:
    """Reopen a project GeoPackage: the plan exactly as saved, and its edit history.

    Parameters
    ----------
    path
        The project GeoPackage.

    Returns
    -------
    tuple
        The plan and its edit history.
    """
    import pyogrio

    path = Path(path)
    sweep_temporary(path)  # what killed saves left beside it
    try:
        present = {name for name, _ in pyogrio.list_layers(path)}
    except Exception as err:  # pyogrio DataSourceError on a corrupt or foreign file
        msg = (f"{path.name}: cannot be opened as a project GeoPackage ({err}). The file may "
               "be damaged; open the previous copy or generate the grids again.")
        raise InputError(msg, key="bad_project", where=path.name) from err
    missing = [n for n in PROJECT_LAYERS if n not in present]
    if missing:
        msg = (f"{path.name}: not a grid project file (missing layers: {', '.join(missing)}). "
               "Open a file saved by this tool.")
        raise InputError(msg, key="not_a_project", where=path.name)
    info = pyogrio.read_dataframe(path, layer="plan_info").iloc[0]
    crs = pyproj.CRS.from_wkt(info["crs"])
    rules = GridRules.from_json(info["rules"])
    b = gpd.read_file(path, layer="blocks").to_crs(crs)
    ids = b["block_id"].astype(str).to_numpy()
    pos = {v: i for i, v in enumerate(ids)}
    adj_t = pyogrio.read_dataframe(path, layer="block_adjacency")
    i = adj_t["a"].map(pos).to_numpy(dtype=np.int64)
    j = adj_t["b"].map(pos).to_numpy(dtype=np.int64)
    adjacency = sp.csr_matrix((np.ones(2 * i.size, dtype=bool),
                               (np.concatenate([i, j]), np.concatenate([j, i]))),
                              shape=(ids.size, ids.size))
    hb = pyogrio.read_dataframe(path, layer="home_blocks")
    home_block = pd.Series(hb["block_id"].astype(str).to_numpy(), index=hb["home"].astype(str))
    if "street" not in b.columns:  # saved before blocks were named by their streets
        b["street"] = ""
    b["street"] = b["street"].fillna("").astype(str)
    # Projects saved before blocks were cleaned into an exact coverage are outlined by the
    # overlay, as they were then.
    exact = bool(len(b)) and bool(shapely.coverage_is_valid(np.asarray(b.geometry.values)))
    blocks = Blocks(b.drop(columns=["community", "grid"]), adjacency, home_block,
                    tuple(json.loads(info["notes"])), exact=exact)
    plan = GridPlan.from_state(blocks, rules, json.loads(info["state"]))
    hist = pyogrio.read_dataframe(path, layer="edit_history")
    for col in HISTORY_COLUMNS:
        if col not in hist:
            hist[col] = ""
    history = [{k: ("" if v is None else str(v)) for k, v in row.items()} for row in
               hist[list(HISTORY_COLUMNS)].to_dict("records")]
    return plan, history
