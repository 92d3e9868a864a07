"""Schemathesis hooks for docs/openapi.yaml (loaded by tests/schemathesis/run).

The document's custom string format `json-object` (a custodian share: a JSON
object serialised into a string, as Portal sends it) gets a generator, so
that schema-valid webhook bodies carry shares the Worker must accept.
Without it Schemathesis would fill `share` with arbitrary text and call the
Worker's 400 INVALID_SHARE a rejection of valid data.
"""

import json

import schemathesis
from hypothesis import strategies as st

# No lone surrogates: they are not Unicode scalar values, and JSON text
# that escapes one is refused by serde_json (the Worker) as it should be.
text = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=24)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | text
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)
json_object_text = st.dictionaries(text, values, max_size=8).map(json.dumps)

schemathesis.openapi.format("json-object", json_object_text)
