"""The agent: planner, graph, executor, HTTP app, Slack, runbooks and the `keel` CLI."""
