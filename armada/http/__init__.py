"""The REST API and the WebSocket endpoint: routes, one handler module per resource, request
parsing, schemas, and the middlewares and hooks every request passes through."""
