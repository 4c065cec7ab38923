"""The ``toolbox`` app: views that call the MCP servers named in ``settings.MCP_SERVERS``."""
