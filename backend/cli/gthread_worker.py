"""The gunicorn worker `replywise serve` runs: gthread that never accepts a connection it has no
thread for."""
from __future__ import annotations

from gunicorn.workers.gthread import ThreadWorker


class BoundedThreadWorker(ThreadWorker):
    """gthread with as many connections per worker as threads.

    Stock gthread accepts up to `worker_connections` (1,000) connections per worker whatever
    its thread count, and a request on a connection beyond the threads waits in the pool's
    queue until another request ends. For drafts that stream for seconds, that wait is
    seconds; and since keep-alive clients stay with the worker that accepted them, one worker
    can hold more streams than it has threads while another has threads idle. Capping the
    connections at the threads keeps the excess in the listen backlog, where a worker with
    room accepts it.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.worker_connections = self.cfg.threads

    @classmethod
    def check_config(cls, cfg, log) -> None:
        # The stock check warns that keep-alive needs connections beyond the threads; here an
        # idle keep-alive connection holds one of the threads' places, which is the point.
        return None
