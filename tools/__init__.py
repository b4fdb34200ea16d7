"""The tool contract: argument models, the result envelope, and the dispatcher over a backend."""
