"""Below a library's public API: the only modules that reach into what a library keeps to
itself, each named for what it bypasses, each kept only where the gain is measured (its
docstring says how much, with the command that measures it, and what exactly it relies on).

CHECKED_WITH is the one table of the library version each module was read against and
tested on. `tests/test_private_api.py` fails when the installed version or setup.cfg's pin
of a library is another, or when a module here is missing from the table: before raising
a pin, read what the module relies on in the new version, run its tests, then change the
pin and its row together.
"""

from typing import NamedTuple


class Checked(NamedTuple):
    distribution: str  # as setup.cfg pins it
    version: str


CHECKED_WITH: dict[str, Checked] = {
    # JSON answers to requests aiohttp's parser refuses (tests/test_aiohttp_bad_request.py).
    "aiohttp_bad_request": Checked("aiohttp", "3.14.5"),
    # aiohttp_cors's response hook called only for a request with an Origin
    # (tests/test_aiohttp_cors_hooks.py).
    "aiohttp_cors_hooks": Checked("aiohttp-cors", "0.8.1"),
    # WebSocket frames built once and written to the sockets (tests/test_frames.py).
    "aiohttp_frames": Checked("aiohttp", "3.14.5"),
    # Bodies loaded through a plan of the schema's fields (tests/test_schemas.py).
    "marshmallow_plan": Checked("marshmallow", "4.4.0"),
}
