"""Fronts: each API the gateway speaks, parsing its wire format into the core request and
rendering outcomes and errors in its own shape."""
