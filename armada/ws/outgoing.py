"""Messages on their way to the subscribers' sockets: each message's bytes and frame built
once, and what one flush writes, joined once, shared by every subscriber in step."""

from __future__ import annotations

from armada.private_api.aiohttp_frames import frame_of
from armada.stream.messages import Message


class Outgoing:
    """A message on its way to the sockets: its bytes and its frame built when first
    written, then shared by every subscriber."""

    __slots__ = ("_frame", "_payload", "message")

    def __init__(self, message: Message) -> None:
        self.message = message
        self._payload: bytes | None = None
        self._frame: bytes | None = None

    @property
    def payload(self) -> bytes:
        if self._payload is None:
            self._payload = self.message.text.encode()
        return self._payload

    @property
    def frame(self) -> bytes:
        if self._frame is None:
            self._frame = frame_of(self.payload)
        return self._frame


def grouped_frame(items: list[Outgoing]) -> bytes:
    """One text frame carrying the messages of `items` as one JSON array, in order."""
    return frame_of(b"[" + b",".join(item.payload for item in items) + b"]")


class Flushed:
    """The messages that leave together in one flush, and the bytes every subscriber that
    takes them all is written: joined once, shared by all of them."""

    __slots__ = ("_grouped", "_joined", "epoch", "first_seq", "items", "last")

    def __init__(self, items: list[Outgoing]) -> None:
        self.items = items
        first, self.last = items[0].message, items[-1].message
        self.first_seq = first.seq
        # One epoch throughout: a subscriber in step takes all of them or none.
        self.epoch = first.epoch if first.epoch == self.last.epoch else None
        self._joined: bytes | None = None
        self._grouped: bytes | None = None

    def data(self, grouped: bool) -> bytes:
        """Each message in its own frame, or (`grouped`) all of them in one frame."""
        if grouped:
            if self._grouped is None:
                self._grouped = grouped_frame(self.items)
            return self._grouped
        if self._joined is None:
            self._joined = b"".join(item.frame for item in self.items)
        return self._joined
