"""Code as syntax trees (tree-sitter): languages, parsing with diagnostics, detection,
outlines. See docs/code.md."""
