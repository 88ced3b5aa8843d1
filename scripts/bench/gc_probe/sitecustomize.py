"""Load-test probe, not part of the service: records this process's cyclic-GC passes.

`scripts/loadtest --gc-probe DIR` puts this directory first on the workers' PYTHONPATH, so
Python imports it at start-up. A pass holds the GIL, and so every stream of its worker, for
its whole duration: the probe writes each full (generation 2) pass, and each younger pass of
at least 5 ms of wall time, to DIR/<pid>.log as `<unix time> <generation> <wall ms> <cpu ms>`,
and every 60 s a `totals` line with the passes and CPU of each generation so far.
"""
from __future__ import annotations

import gc
import os
import time

_DIR = os.environ.get("REPLYWISE_GC_PROBE_DIR")
_SLOW_MS = 5.0


def _install(directory: str) -> None:
    # gunicorn forks its workers from a master that has already run this: each worker opens
    # its own log after the fork rather than writing to the master's.
    log = _open(directory)

    def reopen() -> None:
        nonlocal log
        log = _open(directory)
        passes[:], cpu_ms[:] = [0, 0, 0], [0.0, 0.0, 0.0]

    os.register_at_fork(after_in_child=reopen)
    began = [0.0, 0.0]
    passes, cpu_ms = [0, 0, 0], [0.0, 0.0, 0.0]
    flushed = [time.monotonic()]

    def probe(phase: str, info: dict) -> None:
        if phase == "start":
            began[0], began[1] = time.perf_counter(), time.thread_time()
            return
        wall = (time.perf_counter() - began[0]) * 1000
        cpu = (time.thread_time() - began[1]) * 1000
        generation = info["generation"]
        passes[generation] += 1
        cpu_ms[generation] += cpu
        if generation == 2 or wall >= _SLOW_MS:
            log.write(f"{time.time():.3f} {generation} {wall:.1f} {cpu:.1f}\n")
        if time.monotonic() - flushed[0] >= 60:
            flushed[0] = time.monotonic()
            log.write(f"totals {time.time():.3f} " + " ".join(
                f"{n}:{c:.0f}" for n, c in zip(passes, cpu_ms)) + "\n")

    gc.callbacks.append(probe)


def _open(directory: str):
    return open(os.path.join(directory, f"{os.getpid()}.log"), "a", buffering=1)


if _DIR:
    _install(_DIR)
