"""Function calling: tool specs and tool_choice (`spec`), calls (`calls`), one parser per output
format (`parsers`, registered in TOOL_PARSERS), the streaming hermes splitter (`stream`) and
server-side argument validation (`validate`)."""
