"""Charts of an investigation: `incident` picks the numbers from tool results, `svg` draws them, `png` for Slack."""
