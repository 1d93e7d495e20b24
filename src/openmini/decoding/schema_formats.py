"""String formats llguidance lacks, said as the `pattern` of their grammar.

llguidance refuses a `format` it does not implement. Where the format's syntax is a regular
language these patterns say it exactly, written from the grammar that defines it (RFC 3986
Appendix A for URIs, RFC 3987 §2.2 for IRIs, RFC 6901 for JSON pointers), and they are tested
string by string against the checker that validates it (`jsonschema`'s, from its
`format-nongpl` extra: rfc3986-validator, rfc3987-syntax, jsonpointer):

- `uri-reference`: a URI or a relative reference;
- `iri`, `iri-reference`: the same with non-ASCII letters (`ucschar`) and, in the query,
  private-use characters, those of the Basic Multilingual Plane (the checker's ranges;
  RFC 3987 also has the supplementary planes', which the checker refuses), and IPv6
  literals without `::` compression but for one group (the checker's grammar again);
- `json-pointer`: `""` or `/`-led tokens where `~` is only `~0` or `~1`;
- `relative-json-pointer`: a non-negative integer, then `#` or a JSON pointer. jsonschema's
  checker also refuses a digit after a `0` (`100`, which the draft allows); the pattern
  follows the checker, since a value it refuses would fail validation.

`regex` (ECMA-262 syntax is not regular) and `uri-template` (its checker's parser has rules
of its own) stay refused.
"""

from __future__ import annotations

from typing import Any

_HEX = "[0-9A-Fa-f]"
_PCT = f"%{_HEX}{{2}}"
_SUB = "!$&'()*+,;="
# ucschar and iprivate as rfc3987-syntax (the checker) has them: the Basic Multilingual
# Plane's ranges only; RFC 3987 adds the supplementary planes, which it refuses.
_UCS = "\\x{A0}-\\x{D7FF}\\x{F900}-\\x{FDCF}\\x{FDF0}-\\x{FFEF}"
_PRIVATE = "\\x{E000}-\\x{F8FF}"


def _ipv6(*, compressed: bool) -> str:
    """IPv6address (RFC 3986 §3.2.2): the nine forms, by where `::` stands. Without
    `compressed`, each `::` form only with the most groups before it (`1:2:3:4:5:6::8`, not
    `::1`): rfc3987-syntax's grammar, which the IRI checker is, has those alone."""
    h16 = f"{_HEX}{{1,4}}"
    octet = "(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9][0-9]|[0-9])"
    ls32 = f"(?:{h16}:{h16}|{octet}(?:\\.{octet}){{3}})"
    tails = [f"(?:{h16}:){{4}}{ls32}", f"(?:{h16}:){{3}}{ls32}", f"(?:{h16}:){{2}}{ls32}",
             f"{h16}:{ls32}", ls32, h16, ""]
    forms = [f"(?:{h16}:){{6}}{ls32}", f"::(?:{h16}:){{5}}{ls32}"]
    forms += [f"(?:(?:{h16}:){{{'0,' if compressed else ''}{k}}}{h16}){'?' if compressed else ''}"
              f"::{tail}" for k, tail in enumerate(tails)]
    return "(?:" + "|".join(forms) + ")"


def _reference(ucs: str, private: str, *, compressed: bool) -> tuple[str, str]:
    """(absolute, reference): `URI` and `URI-reference`, or with `ucs`/`private` the IRI
    forms (`iunreserved` adds `ucschar`, `iquery` adds `iprivate`)."""
    unreserved = f"A-Za-z0-9\\-._~{ucs}"
    pchar = f"(?:[{unreserved}{_SUB}:@]|{_PCT})"
    segment, nonempty = f"{pchar}*", f"{pchar}+"
    no_colon = f"(?:[{unreserved}{_SUB}@]|{_PCT})+"
    future = f"v{_HEX}+\\.[A-Za-z0-9\\-._~{_SUB}:]+"
    literal = f"\\[(?:{_ipv6(compressed=compressed)}|{future})\\]"
    host = f"(?:{literal}|(?:[{unreserved}{_SUB}]|{_PCT})*)"  # reg-name holds IPv4 too
    authority = f"(?:(?:[{unreserved}{_SUB}:]|{_PCT})*@)?{host}(?::[0-9]*)?"
    after = f"(?:/{segment})*"
    absolute_path = f"/(?:{nonempty}{after})?"
    tail = (f"(?:\\?(?:[{unreserved}{_SUB}:@/?{private}]|{_PCT})*)?"
            f"(?:#(?:[{unreserved}{_SUB}:@/?]|{_PCT})*)?")
    scheme = "[A-Za-z][A-Za-z0-9+\\-.]*"
    uri = f"{scheme}:(?://{authority}{after}|{absolute_path}|{nonempty}{after}|){tail}"
    relative = f"(?://{authority}{after}|{absolute_path}|{no_colon}{after}|){tail}"
    return uri, f"(?:{uri}|{relative})"


_POINTER = "(?:/(?:[^~/]|~[01])*)*"
_URI, _URI_REFERENCE = _reference("", "", compressed=True)
_IRI, _IRI_REFERENCE = _reference(_UCS, _PRIVATE, compressed=False)
PATTERNS = {
    "uri-reference": _URI_REFERENCE,
    "iri": _IRI,
    "iri-reference": _IRI_REFERENCE,
    "json-pointer": _POINTER,
    "relative-json-pointer": f"(?:0|[1-9]+0?)(?:#|{_POINTER})",
}


def without_format(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with a format of PATTERNS said as a pattern (both apply to strings only);
    beside a `pattern` of its own, in `allOf` (an instance matches both)."""
    fmt = schema.get("format")
    if not isinstance(fmt, str) or fmt not in PATTERNS:
        return schema
    rest = {k: v for k, v in schema.items() if k != "format"}
    pattern = {"pattern": f"^{PATTERNS[fmt]}$"}
    if "pattern" not in rest:
        return {**rest, **pattern}
    return {**rest, "allOf": [*rest.get("allOf", []), pattern]}
