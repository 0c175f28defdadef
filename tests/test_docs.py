"""Every public function of gis/ says what it takes and what it returns (numpydoc)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

GIS = Path(__file__).resolve().parent.parent / "gis"

#: The entry points a newcomer starts from: each shows itself in an Examples section.
ENTRY_POINTS = [
    "study.py::load_study", "data/sources.py::load_osm", "data/read.py::read_facilities",
    "network/graph.py::network_from_streets", "network/access.py::build_access",
    "analysis/coverage.py::compute_coverage", "analysis/coverage.py::CoverageOptions",
    "analysis/gaps.py::find_gaps", "analysis/standards.py::check_standards",
    "planning/siting.py::plan_sites", "planning/model.py::MaxCoverageModel",
    "zoning/blocks.py::make_blocks", "zoning/generate.py::plan_grids",
    "zoning/editor.py::GridEditor.from_state", "zoning/project.py::save_project",
    "zones.py::zone_of_homes", "settings.py::read_toml", "batch.py::run_batch",
]


def _sections(doc: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    lines = doc.split("\n")
    current = None
    for i, line in enumerate(lines):
        if i + 1 < len(lines) and re.fullmatch(r"-{3,}", lines[i + 1].strip()) \
                and line.strip() and not line.startswith(" "):
            current = line.strip()
            out[current] = []
        elif current is not None and not re.fullmatch(r"-{3,}", line.strip()):
            out[current].append(line)
    return out


def _visit(nodes, where: Path, prefix: str = ""):
    for node in nodes:
        if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            yield from _visit(node.body, where, f"{node.name}.")
        elif isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
            if any(getattr(d, "id", getattr(d, "attr", "")) in ("property", "setter")
                   for d in node.decorator_list):
                continue
            yield f"{where}::{prefix}{node.name}", node


def _public_functions():
    for path in sorted(GIS.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        yield from _visit(tree.body, path.relative_to(GIS))


FUNCTIONS = list(_public_functions())


def test_the_walk_finds_the_public_functions():
    names = {name for name, _node in FUNCTIONS}
    assert "analysis/coverage.py::compute_coverage" in names
    assert "zoning/editor.py::GridEditor.move_blocks" in names
    assert len(names) > 150


@pytest.mark.parametrize("name,node", FUNCTIONS, ids=[n for n, _ in FUNCTIONS])
def test_every_public_function_documents_its_parameters_and_what_it_returns(name, node):
    doc = ast.get_docstring(node) or ""
    assert doc, f"{name} has no docstring"
    sections = _sections(doc)
    args = node.args
    params = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs
              if a.arg not in ("self", "cls")]
    params += [a.arg for a in (args.vararg, args.kwarg) if a is not None]
    if params:
        assert "Parameters" in sections, f"{name}: no Parameters section"
        documented = set()
        for line in sections["Parameters"]:
            if line.strip() and not line.startswith(" "):
                documented |= {p.strip().lstrip("*").split(" : ")[0]
                               for p in line.split(",")}
        missing = [p for p in params if p not in documented]
        assert not missing, f"{name}: parameters not documented: {missing}"
    returns = ast.unparse(node.returns) if node.returns else "None"
    if returns not in ("None", "NoReturn"):
        assert "Returns" in sections or "Yields" in sections, f"{name}: no Returns section"


@pytest.mark.parametrize("name", ENTRY_POINTS)
def test_main_entry_points_show_an_example(name):
    found = {n: node for n, node in FUNCTIONS}
    if name not in found:  # a class
        path, qual = name.split("::")
        tree = ast.parse((GIS / path).read_text(encoding="utf-8"))
        node = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == qual)
    else:
        node = found[name]
    assert "Examples" in _sections(ast.get_docstring(node) or ""), name
