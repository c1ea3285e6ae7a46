"""Run a module as ``__main__`` under cProfile, writing the profile when sent SIGUSR2.

    python -m bench.profiled OUT.prof MODULE [ARGS...]

A signal rather than exit: the processes profiled here (``researchbot bot``, ``bench.bare_bolt``) leave
through ``os._exit`` or re-raise SIGTERM, so a profile written at exit would never be written.
"""

from __future__ import annotations

import cProfile
import runpy
import signal
import sys
from types import FrameType

DUMP_SIGNAL = signal.SIGUSR2


def main() -> None:
    if len(sys.argv) < 3:
        raise SystemExit("usage: python -m bench.profiled OUT.prof MODULE [ARGS...]")
    out, module, *args = sys.argv[1:]
    profiler = cProfile.Profile()

    def dump(signum: int, frame: FrameType | None) -> None:
        profiler.dump_stats(out)

    signal.signal(DUMP_SIGNAL, dump)
    sys.argv = [module, *args]
    profiler.enable()
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
