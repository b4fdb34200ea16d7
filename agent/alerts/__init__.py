"""Alerts in: Alertmanager webhooks open incidents, an investigation runs, Slack gets the thread."""
