"""MCP both ways: `server` exposes keel's tools to MCP clients; `client` adds external MCP servers' tools."""
