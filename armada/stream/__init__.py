"""What the live stream means, apart from how it is sent: messages, their numbering (this
process's, or the deployment's through Redis), the ring that resume replays from, filters."""
