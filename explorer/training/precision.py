"""Hardware-aware defaults: float32 or bfloat16, and how many CPU threads.

bfloat16 autocast is only faster where the hardware does bfloat16 arithmetic: CPUs with AMX
(``amx_bf16``) or AVX-512 BF16 (``avx512_bf16``), and GPUs that support it. Elsewhere PyTorch
emulates it and a step is slower than in float32 (2.7x slower on an AVX-512 CPU without either
flag). ``choose_precision`` is the pure rule (flags and optional timings in, a choice and its
reason out); ``resolve_precision`` gathers the flags and, where bfloat16 could pay, times a few
steps of the real model in each precision (a second or two) and keeps the faster.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable

PRECISIONS = ("auto", "fp32", "bf16")
BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")
# bfloat16 costs accuracy (codes move by a few % of their spread): keep float32 unless bfloat16
# is clearly faster
MIN_SPEEDUP = 1.10


@dataclass(frozen=True)
class PrecisionChoice:
    precision: str                 # "fp32" or "bf16"
    reason: str                    # one line for the log
    asked: str = "auto"
    timings: dict[str, float] = field(default_factory=dict)  # precision -> items/s measured

    @property
    def bf16(self) -> bool:
        return self.precision == "bf16"

    def to_dict(self) -> dict[str, Any]:
        return {"chosen": self.precision, "asked": self.asked, "reason": self.reason,
                "items_per_s": dict(self.timings)}


def cpu_flags(path: str = "/proc/cpuinfo") -> frozenset[str]:
    """The CPU feature flags of the first processor listed in /proc/cpuinfo (empty elsewhere)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("flags", "Features"):
                    return frozenset(value.split())
    except OSError:
        pass
    return frozenset()


def bf16_hardware(device_type: str, flags: frozenset[str] | set[str],
                  cuda_bf16: bool = False) -> tuple[bool, str]:
    """Whether this device does bfloat16 arithmetic natively, and what says so."""
    if device_type == "cuda":
        return (cuda_bf16, "the GPU supports bfloat16" if cuda_bf16
                else "the GPU does not support bfloat16")
    have = [f for f in BF16_CPU_FLAGS if f in flags]
    if have:
        return True, f"the CPU has {' and '.join(have)}"
    return False, "the CPU has neither AMX nor AVX512-BF16, so bfloat16 would be emulated"


def choose_precision(asked: str, device_type: str, flags: frozenset[str] | set[str],
                     cuda_bf16: bool = False, timings: dict[str, float] | None = None
                     ) -> PrecisionChoice:
    """The precision to run in (a pure function).

    asked: "fp32", "bf16" (kept as asked) or "auto". With "auto": float32 unless the device
    does bfloat16 natively; where it does and timings {"fp32": items/s, "bf16": items/s} are
    given, bfloat16 only if it is at least MIN_SPEEDUP times faster; without timings, bfloat16.
    """
    if asked not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {asked!r}")
    t = dict(timings or {})
    if asked != "auto":
        return PrecisionChoice(asked, "asked for", asked, t)
    native, why = bf16_hardware(device_type, flags, cuda_bf16)
    if not native:
        return PrecisionChoice("fp32", why, asked, t)
    if t.get("fp32") and t.get("bf16"):
        speedup = t["bf16"] / t["fp32"]
        if speedup >= MIN_SPEEDUP:
            return PrecisionChoice("bf16", f"{why}; bfloat16 measured {speedup:.2f}x as fast "
                                   f"as float32", asked, t)
        return PrecisionChoice("fp32", f"{why}, but bfloat16 measured only {speedup:.2f}x as "
                               f"fast as float32 (needs {MIN_SPEEDUP:.2f}x)", asked, t)
    return PrecisionChoice("bf16", f"{why} (not timed)", asked, t)


def time_precisions(step: Callable[[bool], int], seconds: float = 0.6, max_steps: int = 8
                    ) -> dict[str, float]:
    """Items per second of step(bf16) -> items processed, in each precision: one warm-up call,
    then calls until `seconds` have passed or max_steps were made."""
    out = {}
    for name in ("fp32", "bf16"):
        step(name == "bf16")
        n, t0 = 0, time.perf_counter()
        for _ in range(max_steps):
            n += step(name == "bf16")
            if time.perf_counter() - t0 >= seconds:
                break
        out[name] = round(n / max(time.perf_counter() - t0, 1e-9), 1)
    return out


def resolve_precision(asked: str, device_type: str, step: Callable[[bool], int] | None = None,
                      flags: frozenset[str] | None = None) -> PrecisionChoice:
    """choose_precision for this machine: reads the CPU flags (or asks CUDA), and times `step`
    (see time_precisions) only where bfloat16 could be the faster."""
    import torch

    flags = cpu_flags() if flags is None else flags
    cuda_bf16 = device_type == "cuda" and torch.cuda.is_bf16_supported()
    first = choose_precision(asked, device_type, flags, cuda_bf16)
    if asked != "auto" or first.precision == "fp32" or step is None:
        return first
    with torch.random.fork_rng(devices=[]):  # timing must not shift the training's random draws
        timings = time_precisions(step)
    return choose_precision(asked, device_type, flags, cuda_bf16, timings)


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask; os.cpu_count() where there is none)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def choose_threads(asked: int, cpus: int, processes_here: int = 1) -> tuple[int, str]:
    """Intra-op threads (a pure function): `asked` if > 0, else the CPUs this process may use
    shared among the processes on this machine (torchrun's LOCAL_WORLD_SIZE)."""
    if asked > 0:
        return asked, "asked for with --threads"
    n = max(1, cpus // max(1, processes_here))
    why = f"{cpus} CPUs available to this process"
    if processes_here > 1:
        why += f", shared by {processes_here} processes on this machine"
    return n, why
