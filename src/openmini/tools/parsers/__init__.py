"""Tool-call parsers, one module per output format, found by name in TOOL_PARSERS.

    parser = TOOL_PARSERS.create("hermes")
    parsed = parser.parse(text)   # ParsedOutput(content, calls, problems)
"""

from openmini.registry import Registry
from openmini.tools.parsers.base import ParsedOutput, ToolParser

TOOL_PARSERS: Registry[ToolParser] = Registry("tool parser")
TOOL_PARSERS.register("hermes", "openmini.tools.parsers.hermes:HermesParser")
TOOL_PARSERS.register("fenced", "openmini.tools.parsers.fenced:FencedParser")
TOOL_PARSERS.register("bare", "openmini.tools.parsers.bare:BareParser")

__all__ = ["TOOL_PARSERS", "ParsedOutput", "ToolParser"]
