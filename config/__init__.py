"""The one settings class (`config.settings.Settings`): KEEL_* environment variables over keel.toml over
defaults. Every package reads its configuration from it; it imports nothing of keel's."""
