"""The WebSocket transport of the stream: each subscriber's bounded queue and writer task,
and the fan-out. The endpoint that accepts subscribers is `armada.http.websocket`."""
