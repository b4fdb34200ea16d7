"""Root-cause analysis: anomaly scoring, change points, graph prior, causal discovery, ranking."""
