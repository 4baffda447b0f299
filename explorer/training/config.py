"""What a training run is asked to do: `TrainConfig` (one field per `train` flag), the
default recipe's model settings and the checks that refuse settings that cannot train."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

GALLERY_SIZE = 16

# The default recipe's model settings, applied to whatever the caller leaves unset (the config
# dataclasses' own defaults rebuild the first bundles' nets; see explorer/models/base.py).
# Measured in the README (Training: the recipe).
# linear_whiten 0.25: the PCA-initialised codes keep some of PCA's proportions, so that the
# large-variance part colours are not down-weighted in Euclidean neighbours (README, "Part
# colours")
RECIPE: dict[str, Any] = {"schedule": "fraction", "linear_path": True, "linear_whiten": 0.25}
# a run planned with this many epochs or more (bench.bench_recipe's default) is planned to
# its --time-limit: reaching the limit is its end, not an early stop
UNTIL_LIMIT_EPOCHS = 10_000
PCA_INIT_BYTES = 256 << 20  # the float32 pixel matrix of the PCA initialisation stays under it


LR_SCHEDULES = ("cosine", "constant")


class TrainingError(RuntimeError):
    """Training cannot start or cannot go on (bad input, diverged loss)."""


@dataclass(frozen=True)
class TrainConfig:
    model: str = "beta-vae"
    epochs: int = 30
    batch_size: int = 64
    lr: float = 1e-3               # the peak learning rate
    lr_schedule: str = "cosine"    # cosine: warm-up, then cosine decay to final_lr x lr; constant
    warmup: float = 0.02           # fraction of the run the learning rate warms up over
    final_lr: float = 0.05         # the cosine schedule ends at this fraction of lr
    ema: float = 0.999             # decay of the weight average used for eval/bundle; 0 = off
    # the PCA-initialised linear paths learn at this fraction of lr (0 = frozen, the conv nets
    # learn the residual): Adam moves every weight by ~lr a step, a lot for the small weights
    # of a PCA basis (measured in the README: frozen is as good and cheaper)
    linear_lr: float = 0.0
    # > 0: the frozen linear paths fade out (a cosine from 1 at linear_fade_start to 0 at this
    # fraction of the run) so that the conv nets, which start as PCA's residual, carry the
    # whole code by the end: PCA's quick start without PCA's neighbours in a long run
    linear_fade: float = 0.0
    linear_fade_start: float = 0.1
    # > 0: a patch discriminator (explorer/models/discriminator.py) adds a hinge GAN loss of
    # this weight (relative to the reconstruction loss's gradient) from adversarial_start on
    adversarial: float = 0.0
    adversarial_start: float = 0.3  # fraction of the run
    weight_decay: float = 0.0
    seed: int = 0
    val_fraction: float = 0.1
    max_val: int = 5000
    group_duplicates: bool = True  # pixel-identical images on one side of the split
    stratify: str = ""             # a metadata column whose shares the validation split keeps
    init_from: str = ""            # a bundle whose weights the model starts from (warm start)
    threads: int = 0               # torch intra-op threads; 0 = the CPUs this process may use
    channels_last: bool = True
    compile: bool = False          # torch.compile the model (slow start, faster steps)
    precision: str = "auto"        # auto (the faster here), fp32, bf16 (autocast forward passes)
    device: str = "auto"           # auto, cpu, cuda
    projections: tuple[str, ...] = ("pca", "umap", "tsne")
    image_quality: int = 0         # 0: pack bundle images lossless; else WebP quality
    grad_clip: float = 100.0
    write_bundle: bool = True      # False: only the checkpoint (finish later with --resume)
    # seconds for the whole command (explorer.training.budget); the training's share compresses the
    # schedules (progress = the larger of step / planned steps and elapsed / its share) and
    # stops the run, mid-epoch if need be, when it is spent
    time_limit: float = 0.0

    def __post_init__(self) -> None:
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got "
                             f"{self.lr_schedule!r}")
        if self.adversarial < 0:
            raise ValueError(f"adversarial must be >= 0, got {self.adversarial}")
        if self.linear_lr < 0:
            raise ValueError(f"linear_lr must be >= 0, got {self.linear_lr}")
        if not 0.0 <= self.linear_fade <= 1.0:
            raise ValueError(f"linear_fade must be in [0, 1] (0: off), got {self.linear_fade}")
        if self.linear_fade > 0:
            if not 0.0 <= self.linear_fade_start < self.linear_fade:
                raise ValueError(f"linear_fade_start must be in [0, linear_fade = "
                                 f"{self.linear_fade}), got {self.linear_fade_start}")
            if self.linear_lr > 0:
                raise ValueError("linear_fade fades frozen linear paths; it cannot be used with "
                                 f"linear_lr > 0 (got {self.linear_lr})")
        for name in ("warmup", "final_lr", "ema", "adversarial_start"):
            v = getattr(self, name)
            if not 0.0 <= v < 1.0 + (name == "final_lr"):
                raise ValueError(f"{name} must be in [0, 1), got {v}")

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["projections"] = list(self.projections)
        return d


def check_train_config(cfg: TrainConfig) -> None:
    """Refuse settings that cannot train (or would write an untrained bundle)."""
    def bad(flag: str, want: str, got: Any) -> TrainingError:
        return TrainingError(f"--{flag} must be {want}, got {got!r}")

    for name, lo in (("epochs", 1), ("batch_size", 1), ("threads", 0), ("max_val", 0),
                     ("image_quality", 0), ("seed", 0)):
        v = getattr(cfg, name)
        if not isinstance(v, int) or isinstance(v, bool) or v < lo:
            raise bad(name.replace("_", "-"), f"an integer >= {lo}", v)
    if cfg.image_quality > 100:
        raise bad("image-quality", "0 (lossless) or a WebP quality in 1..100", cfg.image_quality)
    for name, ok, want in (("lr", lambda v: v > 0, "a number > 0"),
                           ("weight_decay", lambda v: v >= 0, "a number >= 0"),
                           ("val_fraction", lambda v: 0 <= v < 1, "in [0, 1)"),
                           ("grad_clip", lambda v: v >= 0, "a number >= 0 (0: off)"),
                           ("time_limit", lambda v: v >= 0, "a number of seconds >= 0")):
        v = getattr(cfg, name)
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) \
                or not ok(v):
            raise bad(name.replace("_", "-"), want, v)
