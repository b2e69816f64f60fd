"""External MCP servers behind the orchestrator (docs/architecture.md, "Federation")."""
