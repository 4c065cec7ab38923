"""Integrations with other frameworks; each imports its framework only when used.

- :mod:`.langchain`: MCP tools as LangChain tools (extra ``langchain``).
"""
