"""Memory a finished trial leaves behind, given back before the next trial in the same worker
(Ray Tune reuses actors: a second trial would otherwise start beside the first one's model,
optimizer state and allocator cache, and with fractional GPUs run out of memory)."""

from __future__ import annotations

import ctypes
import gc
import sys


def release_memory() -> None:
    """Free unreachable models, optimizers and trainers (they sit in reference cycles, so only
    the collector frees them), the CUDA caching allocator's blocks, and on Linux the heap
    pages glibc keeps for reuse (so the process's RSS shows what is really held)."""
    gc.collect()
    if "torch" in sys.modules:
        import torch

        if torch.cuda.is_available() and torch.cuda.is_initialized():
            torch.cuda.synchronize()
            torch.cuda.empty_cache()
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):  # not glibc (e.g. musl): nothing to trim
            pass


def cuda_memory() -> dict[str, int]:
    """Bytes allocated, reserved and the peak allocated on the current GPU ({} without one)."""
    import torch

    if not torch.cuda.is_available():
        return {}
    return {
        "allocated": torch.cuda.memory_allocated(),
        "reserved": torch.cuda.memory_reserved(),
        "peak_allocated": torch.cuda.max_memory_allocated(),
    }
