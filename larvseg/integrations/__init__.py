"""Adapters that run larvseg inside other frameworks (`larvseg.integrations.ray`)."""
