"""keel observing itself: Prometheus metrics, structured logs, OpenTelemetry traces."""
