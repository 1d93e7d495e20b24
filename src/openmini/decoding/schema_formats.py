"""String formats llguidance lacks or takes too widely, said as the `pattern` of their grammar.

llguidance refuses a `format` it does not implement. Where the format's syntax is a regular
language these patterns say it exactly, written from the grammar that defines it (RFC 3986
Appendix A for URIs, RFC 3987 §2.2 for IRIs, RFC 6901 for JSON pointers), and they are tested
string by string against the checker that validates it (`jsonschema`'s: rfc3986-validator,
jsonpointer) or, for IRIs, which have no checker installed, against RFC 3987 §3.1: an IRI is
valid when its non-ASCII characters are `ucschar` (`iprivate` in the query) and it is a valid
URI once they are percent-encoded.

- `date`, `time`, `date-time`, which llguidance has, but wider than their checkers: it takes
  February 29 of any year and a leap second (`23:59:60`), which the checkers refuse (so a
  model could write a value that then fails validation). The patterns are the checkers'
  (rfc3339-validator's expression and calendar, `date.fromisoformat`'s years 1-9999);
- `uri-reference`: a URI or a relative reference (rfc3986-validator also takes a leading
  zero in the octets of an IPv4 address inside an IPv6 literal, `[::ffff:01.2.3.4]`; the
  pattern keeps to the RFC there);
- `iri`, `iri-reference`: the same with `ucschar` (non-ASCII letters and symbols, all planes)
  wherever unreserved characters may stand and, in the query, `iprivate`;
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
_UCS = ("\\x{A0}-\\x{D7FF}\\x{F900}-\\x{FDCF}\\x{FDF0}-\\x{FFEF}" + "".join(
    f"\\x{{{plane:X}0000}}-\\x{{{plane:X}FFFD}}" for plane in range(1, 14))
    + "\\x{E1000}-\\x{EFFFD}")  # ucschar (RFC 3987 §2.2)
_PRIVATE = "\\x{E000}-\\x{F8FF}\\x{F0000}-\\x{FFFFD}\\x{100000}-\\x{10FFFD}"  # iprivate


def _ipv6() -> str:
    """IPv6address (RFC 3986 §3.2.2): the nine forms, by where `::` stands."""
    h16 = f"{_HEX}{{1,4}}"
    octet = "(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9][0-9]|[0-9])"
    ls32 = f"(?:{h16}:{h16}|{octet}(?:\\.{octet}){{3}})"
    tails = [f"(?:{h16}:){{4}}{ls32}", f"(?:{h16}:){{3}}{ls32}", f"(?:{h16}:){{2}}{ls32}",
             f"{h16}:{ls32}", ls32, h16, ""]
    forms = [f"(?:{h16}:){{6}}{ls32}", f"::(?:{h16}:){{5}}{ls32}"]
    forms += [f"(?:(?:{h16}:){{0,{k}}}{h16})?::{tail}" for k, tail in enumerate(tails)]
    return "(?:" + "|".join(forms) + ")"


def _reference(ucs: str, private: str) -> tuple[str, str]:
    """(absolute, reference): `URI` and `URI-reference`, or with `ucs`/`private` the IRI
    forms (`iunreserved` adds `ucschar`, `iquery` adds `iprivate`)."""
    unreserved = f"A-Za-z0-9\\-._~{ucs}"
    pchar = f"(?:[{unreserved}{_SUB}:@]|{_PCT})"
    segment, nonempty = f"{pchar}*", f"{pchar}+"
    no_colon = f"(?:[{unreserved}{_SUB}@]|{_PCT})+"
    future = f"v{_HEX}+\\.[A-Za-z0-9\\-._~{_SUB}:]+"
    literal = f"\\[(?:{_ipv6()}|{future})\\]"
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


def _dates() -> tuple[str, str, str]:
    """(date, time, date-time) as jsonschema's checkers take them (rfc3339-validator and
    `date.fromisoformat`): years 0001-9999, the days each month has, February 29 in leap
    years only, no leap second, `T` and `Z` in either case."""
    year = "(?:[1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])"
    leap = "(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)"
    days = ("(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)"
            "|(?:0[13578]|1[02])-31)")
    date = f"(?:{year}-{days}|{leap}-02-29)"
    hours = "(?:[01][0-9]|2[0-3])"
    time = f"{hours}:[0-5][0-9]:[0-5][0-9](?:\\.[0-9]+)?(?:[Zz]|[+-]{hours}:[0-5][0-9])"
    return date, time, f"{date}[Tt]{time}"


_POINTER = "(?:/(?:[^~/]|~[01])*)*"
_DATE, _TIME, _DATE_TIME = _dates()
_URI, _URI_REFERENCE = _reference("", "")
_IRI, _IRI_REFERENCE = _reference(_UCS, _PRIVATE)
PATTERNS = {
    "date": _DATE,
    "time": _TIME,
    "date-time": _DATE_TIME,
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
