"""Schemathesis hooks for docs/openapi.yaml (loaded by tests/schemathesis/run).

A custodian share (`ShareTextSent`) is a JSON object serialised into a
string, as Portal sends it. Its `pattern` alone keeps generated shares ones
the Worker takes (tests/schemathesis/run-plain runs without this file), but
strings drawn from that regular expression are mostly whitespace and
escapes. Here the document's custom format `json-object` gets a generator
of shares as a JSON encoder writes them: `json.dumps` of random objects,
inside the pattern (one level of nesting, numbers without a three-digit
exponent; tests/schemathesis/share_pattern.py says why), so the Worker
stores and answers realistic shares too.
"""

import json

import schemathesis
from hypothesis import strategies as st

# No lone surrogates: they are not Unicode scalar values, and JSON text
# that escapes one is refused by serde_json (the Worker) as it should be.
text = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=24)
# Python writes a float of magnitude 1e100 or more, or below 1e-99, with a
# three-digit exponent, which the pattern leaves out.
floats = (
    st.sampled_from([0.0, -0.0])
    | st.floats(min_value=1e-99, max_value=1e99)
    | st.floats(min_value=-1e99, max_value=-1e-99)
)
scalars = st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**64 - 1) | floats | text
values = scalars | st.lists(scalars, max_size=4) | st.dictionaries(text, scalars, max_size=4)
json_object_text = st.dictionaries(text, values, max_size=8).map(json.dumps)

schemathesis.openapi.format("json-object", json_object_text)
