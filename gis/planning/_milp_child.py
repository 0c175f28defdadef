"""Solve one maximal covering MILP in a process of its own (see gis.planning.model).

Run as ``python -m gis.planning._milp_child MODEL.npz RESULT.npz``; the parent stops this process
when the time limit has passed, which HiGHS itself does not always notice in time.
"""

from __future__ import annotations

import sys

import numpy as np
import scipy.sparse as sp


def main(model_path: str, result_path: str) -> None:
    """Read the model, solve it, write x, status, gap and message.

    Parameters
    ----------
    model_path
        The ``.npz`` the parent wrote.
    result_path
        Where the result goes (``.npz``).
    """
    from gis.planning.model import _milp

    data = np.load(model_path)
    link = sp.csr_matrix((data["link_data"], data["link_indices"], data["link_indptr"]),
                         shape=tuple(data["link_shape"]))
    count = sp.csr_matrix(data["count"])
    res = _milp(data["c"], link, count, int(data["p"]), data["integrality"],
                float(data["time_limit_s"]))
    gap = getattr(res, "mip_gap", np.nan)
    np.savez(result_path, x=np.zeros(0) if res.x is None else res.x,
             has_x=res.x is not None, status=int(res.status),
             mip_gap=np.nan if gap is None else float(gap), message=str(res.message))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
