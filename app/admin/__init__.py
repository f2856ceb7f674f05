"""The system's own records and tools: settings, numbering, background tasks, imports, backup and the launcher."""
