"""Codebase indexes: files walked under ignore rules, chunked by definition, embedded and
stored with full text in SQLite, searched by BM25, vectors or both (docs/index.md).
`manager.IndexManager` is the entry point for the CLI and the server."""
