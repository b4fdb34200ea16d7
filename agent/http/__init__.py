"""The HTTP app: OpenAI-compatible chat, native approvals/audit/incidents routes, the web chat page."""
