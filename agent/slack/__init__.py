"""The Slack app: signed-request verification, slash command, Events API, interactive approval buttons."""
