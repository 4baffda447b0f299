"""Render `explorer evaluate --json` results as a compact Markdown table (for the README).

    python scripts/eval_markdown.py OUT/evaluate.json [--label NAME=LABEL ...]

One row per model; a bundle's PCA baseline is printed once per distinct PCA result (bundles
trained on the same catalogue and split share it). k-NN columns that repeat a text column
(factor_silhouette next to silhouette) are left out; majority-class baselines go in a last row.
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path


def _f(v, fmt: str) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return ""
    return format(v, fmt)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("json", type=Path)
    ap.add_argument("--label", action="append", default=[], help="bundle=label for the rows")
    args = ap.parse_args(argv)
    labels = dict(x.split("=", 1) for x in args.label)
    results = json.loads(args.json.read_text())["results"]
    knn: list[str] = []
    for res in results:
        for c in res["knn_columns"]:
            short = c.removeprefix("factor_")
            if c not in knn and not (c.startswith("factor_") and short in res["knn_columns"]):
                knn.append(c)
    factors = any(res.get("factor_columns") for res in results)
    head = ["model", "KL", "active", "PSNR", "colour"] + [f"kNN {c}" for c in knn]
    if factors:
        head += ["MIG", "DCI D"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    seen_pca = set()
    for res in results:
        for row in res["rows"]:
            if row["baseline"]:
                key = json.dumps([row["psnr"], row["knn"]], sort_keys=True)
                if key in seen_pca:
                    continue
                seen_pca.add(key)
                name = f"PCA-{row['latent_dim']} (baseline)"
            else:
                name = labels.get(res["name"], res["name"])
            cells = [name, _f(row["kl"], ".1f"), _f(row["active_dims"], "d"),
                     _f(row["psnr"], ".2f"), _f(row.get("colour"), ".3f")]
            cells += [_f(row["knn"].get(c), ".3f") for c in knn]
            if factors:
                cells += [_f(row.get("mig"), ".3f"), _f(row.get("dci_d"), ".3f")]
            print("| " + " | ".join(cells) + " |")
    maj = results[0]["rows"][0].get("knn_majority", {})
    cells = ["majority class", "", "", "", ""] + [_f(maj.get(c), ".3f") for c in knn]
    if factors:
        cells += ["", ""]
    print("| " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
