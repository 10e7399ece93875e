"""HTTP handlers, one module per resource; they parse, call the store, broadcast, answer."""
