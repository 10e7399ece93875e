"""The yardstick: a bare aiohttp app that reads any request and answers a small JSON body.

`python bench/bare_app.py PORT` serves on 127.0.0.1:PORT, access log off (as the service
runs with ARMADA_LOG_LEVEL=WARNING), on the event loop the service would choose
(ARMADA_EVENT_LOOP).
"""

from __future__ import annotations

import os
import sys

from aiohttp import web

from armada.serving import event_loop_factory

BODY = {"ok": True}


async def answer(request: web.Request) -> web.Response:
    await request.read()
    return web.json_response(BODY)


def main(port: int) -> None:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    # The service's own choice of loop, so that the ratio compares like with like.
    factory = event_loop_factory(os.environ.get("ARMADA_EVENT_LOOP", "auto").lower())
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None,
                loop=factory() if factory else None)


if __name__ == "__main__":
    main(int(sys.argv[1]))
