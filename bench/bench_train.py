"""Training and encoding speed of the 64 px network, ours against the same loop written plainly.

    python -m bench.bench_train [--latent-dim 32] [--batch-size 64] [--steps 60] [--no-compile]
                                [--burgess | --channels 32,32,64,64]

--burgess measures Burgess et al.'s 64 px network (32 channels in every conv layer, about
0.5 M parameters with 32 latents: the network the issue's reference figures are for); the
default is KickSpace's own (32, 32, 64, 64), about 0.9 M parameters.

Prints, from one run:
  - training images/s: a plain eager loop (contiguous tensors, no compile) and KickSpace's
    step (channels_last; bfloat16 autocast as `train --bf16`; optionally torch.compile), and
    their ratio;
  - batched encoding images/s: plain eager and channels_last (+ compile), and channels_last
    under bfloat16 autocast (encode --precision bf16; AMX / AVX512-BF16 CPUs), with how far its
    means move from fp32 on the demo bundle's trained encoder (relative to the posterior std);
  - one-image decode latency (median over 200 calls, one thread, as the app runs it).
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from explorer.models import build_model


def _train_rate(model, opt, x, steps: int, step_fn) -> float:
    for i in range(5):  # warm-up (and compilation)
        out = step_fn(x, i, 30000)
        opt.zero_grad(set_to_none=True)
        out.loss.backward()
        opt.step()
    t0 = time.perf_counter()
    for i in range(steps):
        out = step_fn(x, i, 30000)
        opt.zero_grad(set_to_none=True)
        out.loss.backward()
        opt.step()
    return steps * len(x) / (time.perf_counter() - t0)


@torch.inference_mode()
def _encode_rate(enc, x, reps: int) -> float:
    for _ in range(3):
        enc(x)
    t0 = time.perf_counter()
    for _ in range(reps):
        enc(x)
    return reps * len(x) / (time.perf_counter() - t0)


def _bf16_error() -> None:
    """How far bf16 encoding moves the trained demo encoder's means (fp32 = reference)."""
    from pathlib import Path

    import numpy as np

    from explorer.bundle.core import load_bundle
    from explorer.bundle.encode import encode_images
    demo = Path("checkpoints/demo")
    if not (demo / "bundle.json").is_file():
        return
    b = load_bundle(demo, check_hashes=False)
    imgs = b.images.get(np.arange(min(2000, len(b))))
    mu32, lv32 = encode_images(b.model, imgs)
    mu16, _ = encode_images(b.model, imgs, precision="bf16")
    d = np.abs(mu16 - mu32)
    from explorer.latent.index import LatentIndex
    q = np.arange(0, len(imgs), 10)
    a = LatentIndex(mu32).query(mu32[q], k=10)[0]
    c = LatentIndex(mu16).query(mu16[q], k=10)[0]
    recall = np.mean([len(set(x) & set(y)) / 10 for x, y in zip(a, c)])
    print(f"  bf16 vs fp32 on {len(imgs)} demo items: max |dmu| {d.max():.4f} (mu std "
          f"{mu32.std():.3f}); median |dmu| / posterior std "
          f"{np.median(d / np.exp(0.5 * lv32)):.3f}; "
          f"10 nearest neighbours agree {recall:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latent-dim", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--encode-batch", type=int, default=512)
    ap.add_argument("--no-compile", action="store_true")
    ap.add_argument("--model", default="beta-vae")
    ap.add_argument("--channels", default="", help="conv widths, e.g. 32,32,64,64")
    ap.add_argument("--burgess", action="store_true", help="= --channels 32,32,32,32")
    args = ap.parse_args()
    torch.manual_seed(0)
    cfg = {"latent_dim": args.latent_dim, "image_size": 64}
    channels = "32,32,32,32" if args.burgess else args.channels
    if channels:
        cfg["channels"] = tuple(int(c) for c in channels.split(","))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, model {args.model}, "
          f"{args.latent_dim} latents, batch {args.batch_size}")
    x = torch.rand(args.batch_size, 3, 64, 64)

    plain = build_model(args.model, cfg)
    n_params = sum(p.numel() for p in plain.parameters())
    print(f"parameters: {n_params:,} (conv widths {plain.cfg.channels})")
    opt = torch.optim.Adam(plain.parameters(), lr=1e-4)
    plain_rate = _train_rate(plain, opt, x, args.steps, plain)
    print(f"train, plain eager loop          : {plain_rate:8.0f} images/s")

    ours = build_model(args.model, cfg).to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(ours.parameters(), lr=1e-4)
    xc = x.contiguous(memory_format=torch.channels_last)
    cl_rate = _train_rate(ours, opt, xc, args.steps, ours)
    print(f"train, channels_last             : {cl_rate:8.0f} images/s  "
          f"({cl_rate / plain_rate:.2f}x plain)")
    best = cl_rate
    bfm = build_model(args.model, cfg).to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(bfm.parameters(), lr=1e-4)

    def bf16_step(x, step, n):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return bfm(x, step, n)

    bf_rate = _train_rate(bfm, opt, xc, args.steps, bf16_step)
    print(f"train, channels_last + bf16      : {bf_rate:8.0f} images/s  "
          f"({bf_rate / plain_rate:.2f}x plain; train --bf16)")
    best = max(best, bf_rate)
    if not args.no_compile:
        comp = build_model(args.model, cfg).to(memory_format=torch.channels_last)
        opt = torch.optim.Adam(comp.parameters(), lr=1e-4)
        t0 = time.perf_counter()
        step = torch.compile(comp)
        comp_rate = _train_rate(comp, opt, xc, args.steps, step)
        print(f"train, channels_last + compile   : {comp_rate:8.0f} images/s  "
              f"({comp_rate / plain_rate:.2f}x plain; compile+warm-up "
              f"{time.perf_counter() - t0:.0f} s incl. the timed steps)")
        best = max(best, comp_rate)
    print(f"=> training speed-up over the plain loop: {best / plain_rate:.2f}x")

    xe = torch.rand(args.encode_batch, 3, 64, 64)
    plain.eval()
    e_plain = _encode_rate(plain.encode, xe, 6)
    print(f"encode, plain eager (batch {args.encode_batch})  : {e_plain:8.0f} images/s")
    ours.eval()
    e_cl = _encode_rate(ours.encode, xe.contiguous(memory_format=torch.channels_last), 6)
    print(f"encode, channels_last            : {e_cl:8.0f} images/s  ({e_cl / e_plain:.2f}x)")
    if not args.no_compile:
        enc = torch.compile(ours.encode)
        e_comp = _encode_rate(enc, xe.contiguous(memory_format=torch.channels_last), 6)
        print(f"encode, channels_last + compile  : {e_comp:8.0f} images/s  "
              f"({e_comp / e_plain:.2f}x)")

    def bf16(f):
        def run(x):
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return f(x)
        return run

    e_bf = _encode_rate(bf16(ours.encode), xe.contiguous(memory_format=torch.channels_last), 6)
    print(f"encode, channels_last + bf16     : {e_bf:8.0f} images/s  ({e_bf / e_plain:.2f}x)")
    _bf16_error()

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    z = torch.randn(1, args.latent_dim)
    times = []
    with torch.inference_mode():
        for _ in range(20):
            plain.decode(z)
        for _ in range(200):
            t0 = time.perf_counter()
            plain.decode(z)
            times.append(time.perf_counter() - t0)
    torch.set_num_threads(threads)
    print(f"decode one image (1 thread)      : {statistics.median(times) * 1e3:8.2f} ms median")


if __name__ == "__main__":
    main()
