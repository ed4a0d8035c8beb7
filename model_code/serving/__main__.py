"""`python -m model_code.serving`: what the image's `serve` command runs (container/serve)."""

from __future__ import annotations

import logging
import sys

import uvicorn

from model_code.serving.app import ServingApp
from model_code.serving.pool import WorkerPool
from model_code.serving.settings import ServerSettings, SettingsError

LOG = logging.getLogger("motflow.serving")
# Headroom past the pool's own grace time, so its 503 answers go out before uvicorn gives up.
UVICORN_GRACE_MARGIN_S = 15.0


class DrainingServer(uvicorn.Server):
    """uvicorn's server, telling the pool to drain before it waits for connections to close."""

    def __init__(self, config: uvicorn.Config, pool: WorkerPool, grace_s: float) -> None:
        super().__init__(config)
        self.pool, self.grace_s = pool, grace_s

    async def shutdown(self, sockets=None) -> None:
        self.pool.drain(self.grace_s)
        await super().shutdown(sockets)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        settings = ServerSettings.from_environ()
    except SettingsError as error:
        print(f"serve: {error}", file=sys.stderr)
        return 2
    if not settings.model_dir.is_dir():
        print(f"serve: no model directory at {settings.model_dir}", file=sys.stderr)
        return 2
    pool = WorkerPool(
        settings.model_dir, settings.workers, worker_timeout_s=settings.worker_timeout_s
    )
    app = ServingApp(pool, max_request_bytes=settings.max_request_bytes)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        http="h11",
        loop="asyncio",
        lifespan="on",
        access_log=False,
        timeout_keep_alive=75,
        timeout_graceful_shutdown=settings.shutdown_grace_s + UVICORN_GRACE_MARGIN_S,
    )
    LOG.info(
        "serving %s on %s:%d with %d worker(s)",
        settings.model_dir, settings.host, settings.port, settings.workers,
    )  # fmt: skip
    DrainingServer(config, pool, settings.shutdown_grace_s).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
