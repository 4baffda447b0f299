"""What `--precision auto` sees on this machine: the CPU's bfloat16 flags, and forward+backward
images/s of the default 64 px model in float32 and under bfloat16 autocast.

    python -m bench.bench_precision [--threads 1] [--size 64] [--seconds 4]

Prints the flags, both timings, their ratio and explorer.training.precision's choice with its reason
(auto does not time where the flags are missing; this script times anyway, to show why).
"""
from __future__ import annotations

import argparse
import os

import torch

from explorer.models import build_model, make_config
from explorer.training.precision import bf16_hardware, choose_precision, cpu_flags, time_precisions


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=4.0)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    flags = cpu_flags()
    model = build_model("beta-vae", make_config("beta-vae", {"image_size": args.size,
                                                             "latent_dim": 16}))
    model = model.to(memory_format=torch.channels_last)
    x = torch.rand(args.batch_size, 3, args.size, args.size).contiguous(
        memory_format=torch.channels_last)

    def step(bf16: bool) -> int:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = model(x, 0, 10000)
        out.loss.backward()
        model.zero_grad(set_to_none=True)
        return len(x)

    load = os.getloadavg()[0]
    t = time_precisions(step, seconds=args.seconds, max_steps=1000)
    bf = sorted(f for f in flags if "amx" in f or f == "avx512_bf16")
    print(f"CPU flags: {' '.join(bf) or 'no amx / avx512_bf16'}; torch capability "
          f"{torch.backends.cpu.get_cpu_capability()}; {bf16_hardware('cpu', flags)[1]}")
    print(f"train step, {args.size} px, batch {args.batch_size}, {args.threads} thread(s), load "
          f"{load:.1f}: float32 {t['fp32']:.0f} images/s, bfloat16 {t['bf16']:.0f} images/s "
          f"({t['bf16'] / t['fp32']:.2f}x)")
    c = choose_precision("auto", "cpu", flags, timings=t)
    print(f"--precision auto chooses {c.precision}: {c.reason}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
