"""The README's headline numbers for the default area are the ones the code computes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gis.settings import load_settings
from gis.study import load_study

README = Path(__file__).resolve().parent.parent / "README.md"


def _number(text: str) -> int:
    return int(text.replace(",", ""))


@pytest.fixture(scope="module")
def study():
    return load_study("default", load_settings())


@pytest.fixture(scope="module")
def readme() -> str:
    return " ".join(README.read_text(encoding="utf-8").split())


def test_readme_household_figures_for_helsinki_are_computed(study, readme):
    m = re.search(r"Helsinki: ([\d,]+) homes, ([\d,]+) households; ([\d,]+) by residential "
                  r"landuse, ([\d,]+) generic, ([\d,]+) tagged residential", readme)
    assert m, "README lost its Helsinki household figures"
    homes, households, landuse, generic, typed = (_number(g) for g in m.groups())
    rules = study.homes["hh_rule"].value_counts()
    assert len(study.homes) == homes
    assert int(study.homes["households"].sum()) == households
    assert int(rules.get("generic in residential landuse", 0)) == landuse
    assert int(rules.get("generic, no other use", 0)) == generic
    assert int(rules.get("residential type", 0)) == typed


def test_readme_network_pieces_for_helsinki_are_computed(study, readme):
    m = re.search(r"the Helsinki extract keeps ([\d,]+) of its ([\d,]+) pieces, and ([\d,]+) "
                  r"nodes are dropped", readme)
    assert m, "README lost its Helsinki network pieces"
    kept, total, dropped = (_number(g) for g in m.groups())
    assert study.network.n_pieces == kept
    assert study.network.n_components == total
    assert study.network.n_dropped_nodes == dropped
