"""Load-test probe, not part of the service: records this process's cyclic-GC passes.

`scripts/loadtest --gc-probe DIR` puts this directory first on the workers' PYTHONPATH, so
Python imports it at start-up. A pass holds the GIL, and so every stream of its worker, for
its whole duration: the probe writes each full (generation 2) pass, and each younger pass of
at least 5 ms of wall time, to DIR/<pid>.log as
`<unix time> <generation> <wall ms> <cpu ms> <objects found unreachable>`, and every 60 s a
`totals` line with the passes and CPU of each generation so far.

With REPLYWISE_GC_PROBE_CENSUS=1 as well (a diagnostic run, not a measurement: it adds a full
pass a minute), the collector keeps what it finds unreachable instead of freeing it, and every
60 s a `census` line lists how many objects of each type were in reference cycles that minute:
what the service leaves for the collector rather than to reference counting. (It never lists
the live generations with gc.get_objects: that takes a reference to every object, including a
tuple another thread is still building, whose resize then fails with a SystemError. Seen in a
worker, and in a master when done from a collector callback.)
"""
from __future__ import annotations

import gc
import os
import time

_DIR = os.environ.get("REPLYWISE_GC_PROBE_DIR")
_SLOW_MS = 5.0
_CENSUS = os.environ.get("REPLYWISE_GC_PROBE_CENSUS") == "1"


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
            log.write(f"{time.time():.3f} {generation} {wall:.1f} {cpu:.1f} "
                      f"{info['collected']}\n")
        if time.monotonic() - flushed[0] >= 60:
            flushed[0] = time.monotonic()
            log.write(f"totals {time.time():.3f} " + " ".join(
                f"{n}:{c:.0f}" for n, c in zip(passes, cpu_ms)) + "\n")

    gc.callbacks.append(probe)
    if _CENSUS:
        gc.set_debug(gc.DEBUG_SAVEALL)
        os.register_at_fork(after_in_child=lambda: _start_census(lambda: log))


def census(log) -> None:
    """Log the types of what the collector found unreachable since the last census, then let
    it free them (a full pass with saving off: objects once saved sit in the oldest
    generation, and would be found again)."""
    import collections
    kinds = collections.Counter(f"{type(o).__module__}.{type(o).__qualname__}"
                                for o in gc.garbage)
    log.write(f"census {time.time():.3f} {len(gc.garbage)} " + " ".join(
        f"{kind}={count}" for kind, count in kinds.most_common(25)) + "\n")
    gc.set_debug(0)
    gc.garbage.clear()
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)


def _start_census(current_log) -> None:
    """A thread of the worker that takes the census every 60 s (not from a collector callback:
    a collection cannot start inside another)."""
    import threading

    def every_minute() -> None:
        while True:
            time.sleep(60)
            census(current_log())

    threading.Thread(target=every_minute, daemon=True, name="gc-census").start()


def _open(directory: str):
    return open(os.path.join(directory, f"{os.getpid()}.log"), "a", buffering=1)


if _DIR:
    _install(_DIR)
