"""Discovered at startup; see server.registry."""
