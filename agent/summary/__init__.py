"""Incident summaries: findings, the narrative, the Block Kit message, and delivery to Slack."""
