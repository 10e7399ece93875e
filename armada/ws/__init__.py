"""The WebSocket transport of `/ws/events/`: the handler, each subscriber's bounded queue and
writer task, and the frames written to the sockets."""
