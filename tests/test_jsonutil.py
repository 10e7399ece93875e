"""The JSON the service writes: orjson where it can, the standard library's text either way."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from helpers import DERANDOMIZE
from hypothesis import given, settings
from hypothesis import strategies as st

from armada.datetimes import format_datetime
from armada.jsonutil import dumps, encode

# What records and messages hold (no floats: no field has one), and what orjson refuses:
# unpaired surrogates, integers beyond 64 bits, keys that are not strings.
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.text(max_size=8), st.sampled_from(["\ud800", "é", "\u2028", "</script>"]),
    st.datetimes(min_value=datetime(1753, 1, 1)),
)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.text(max_size=4) | st.integers(min_value=0, max_value=3), inner, max_size=3),
    max_leaves=12)


def standard(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"),
                      default=lambda v: format_datetime(v) if isinstance(v, datetime) else v)


@pytest.mark.slow
@settings(max_examples=500, deadline=None, database=None, derandomize=DERANDOMIZE)
@given(VALUES)
def test_dumps_writes_the_standard_librarys_text_and_encode_its_utf8(value: object) -> None:
    text = dumps(value)
    assert text == standard(value)
    try:
        expected = text.encode("utf-8")
    except UnicodeEncodeError:  # an unpaired surrogate: no UTF-8 for it, as before
        with pytest.raises(UnicodeEncodeError):
            encode(value)
        return
    assert encode(value) == expected
