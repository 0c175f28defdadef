"""Malformed inputs get a clear message or a correct result, never a raw traceback.

The corpus (tests/fuzz_corpus.py) is written by code: about 450 truncated, corrupted and
absurd study areas, layers, POI exports and household tables. Before: 61 of 392 such
inputs ended in raw tracebacks (protobuf DecodeError, GEOSException, AttributeError,
RecursionError, ParserError).
"""

from __future__ import annotations

import pytest

from tests.fuzz_corpus import corpus, run_case

CASES = corpus()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_malformed_input_is_refused_clearly_or_read_correctly(case, tmp_path):
    outcome, detail, path = run_case(case, tmp_path)
    assert outcome != "traceback", detail
    assert outcome != "wrong", f"{case.name} accepted with {detail}"
    if outcome == "refused":
        # The message names the file the user gave, and says what to do.
        assert path.name in detail, detail
        assert len(detail) > len(path.name) + 20


def test_the_corpus_is_large_and_covers_every_loader():
    assert len(CASES) >= 400
    assert {c.loader for c in CASES} == {"area", "facilities", "buildings", "zones", "table"}
    assert len({c.name for c in CASES}) == len(CASES)
