"""The `pattern` of `ShareTextSent` in docs/openapi.yaml, built from JSON's grammar.

    python share_pattern.py           # print the pattern
    python share_pattern.py --check   # exit 1 unless docs/openapi.yaml holds it

The Worker takes a custodian share when serde_json reads the string as a
JSON object. That is not a regular language (objects nest without bound),
so the pattern admits a regular part of it, chosen so that every string it
matches is one the Worker takes:

- a JSON object whose member values are strings, numbers, `true`, `false`,
  `null`, or arrays and objects of those (one level of nesting);
- strings: any character but `"`, `\\` and U+0000..U+001F, or an escape;
  `\\u` escapes of UTF-16 surrogates only as a high-low pair (serde_json
  refuses a lone one);
- numbers: at most 20 integer digits and a two-digit exponent, so none
  overflows an f64 (serde_json refuses 1e400);
- JSON's whitespace (space, tab, LF, CR) wherever JSON allows it.

It is ECMA-262 (what OpenAPI 3.1 means by `pattern`) and reads the same in
Python's `re`, Rust's regex and JavaScript with or without the `u` flag.
"""

import re
import sys
from pathlib import Path

WS = r"[ \t\n\r]*"
HEX = "[0-9A-Fa-f]"
ESCAPE = (
    r'\\(?:["\\/bfnrt]|u(?:'
    + f"[0-9A-CEFa-cef]{HEX}{{3}}"  # not a surrogate
    + f"|[Dd][0-7]{HEX}{{2}}"  # below the surrogates
    + rf"|[Dd][89ABab]{HEX}{{2}}\\u[Dd][C-Fc-f]{HEX}{{2}}"  # a high surrogate, then a low one
    + "))"
)
STRING = r'"(?:[^"\\\x00-\x1f]|' + ESCAPE + ')*"'
NUMBER = r"-?(?:0|[1-9][0-9]{0,19})(?:\.[0-9]+)?(?:[eE][+-]?[0-9]{1,2})?"
SCALAR = f"{STRING}|{NUMBER}|true|false|null"


def members(value: str) -> str:
    member = f"{STRING}{WS}:{WS}(?:{value}){WS}"
    return rf"\{{{WS}(?:{member}(?:,{WS}{member})*)?\}}"


def elements(value: str) -> str:
    element = f"(?:{value}){WS}"
    return rf"\[{WS}(?:{element}(?:,{WS}{element})*)?\]"


VALUE = f"{SCALAR}|{members(SCALAR)}|{elements(SCALAR)}"
PATTERN = f"^{WS}{members(VALUE)}{WS}$"


def main() -> None:
    if sys.argv[1:] == ["--check"]:
        document = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
        quoted = "'" + PATTERN.replace("'", "''") + "'"
        if f"pattern: {quoted}" not in document.read_text(encoding="utf-8"):
            sys.exit(f"{document}: ShareTextSent's pattern is not the one {__file__} builds")
        return
    re.compile(PATTERN)
    print(PATTERN)


if __name__ == "__main__":
    main()
