"""The `keel` command line: thin typer adapters over the core packages."""
