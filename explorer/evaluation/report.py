"""The evaluation's results as a table and as plain text: `evaluation_table` (a DataFrame for
the app and the command line), `format_table` (aligned text), `knn_report` (how the k-NN columns
were scored), `posterior_report` (models whose posteriors sit on the log-variance floor) and
`json_safe` (the results as JSON values)."""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from explorer.evaluation.evaluate import METRIC_COLUMNS


def evaluation_table(results: list[dict[str, Any]], majority: bool = False) -> pd.DataFrame:
    """One row per model and per PCA baseline, for display: bundle, model, dims, KL, active,
    MSE, PSNR, "kNN <column>" ..., MIG, SAP, DCI D, DCI C, DCI I, modularity (NaN = n/a).
    majority: after each bundle's rows, a "majority class" row with the k-NN columns'
    majority-class baseline (always guessing the commonest training value)."""
    knn_cols: list[str] = []
    for res in results:
        for c in res.get("knn_columns", []):
            if c not in knn_cols:
                knn_cols.append(c)
    has_factors = any(res.get("factor_columns") for res in results)
    records = []
    for res in results:
        for row in res["rows"]:
            rec: dict[str, Any] = {
                "bundle": res["name"], "model": row["model"], "dims": row["latent_dim"],
                "KL": row["kl"], "active": row["active_dims"], "MSE": row["mse"],
                "PSNR": row["psnr"], "sharp": row.get("sharp"), "colour": row.get("colour")}
            for c in knn_cols:
                rec[f"kNN {c}"] = row["knn"].get(c)
            if has_factors:
                for key, label in METRIC_COLUMNS.items():
                    rec[label] = row.get(key)
            records.append(rec)
        if majority and res["rows"] and res["rows"][0].get("knn_majority"):
            base = res["rows"][0]["knn_majority"]
            records.append({"bundle": res["name"], "model": "majority class",
                            **{f"kNN {c}": base.get(c) for c in knn_cols}})
    df = pd.DataFrame.from_records(records)
    for col in df.columns:
        if col not in ("bundle", "model"):
            df[col] = pd.to_numeric(df[col], errors="coerce")
    return df


def format_table(df: pd.DataFrame) -> str:
    """Plain-text, aligned rendering of evaluation_table's frame (blank = n/a)."""
    def fmt(col: str, v) -> str:
        if v is None or (isinstance(v, float) and not math.isfinite(v)):
            return ""
        if col in ("bundle", "model"):
            return _plain(v)
        if col in ("dims", "active"):
            return str(int(v))
        if col == "KL":
            return f"{v:.1f}"
        if col == "MSE":
            return f"{v:.5f}"
        if col == "PSNR":
            return f"{v:.2f}"
        return f"{v:.3f}"

    cols = [_plain(c) for c in df.columns]
    cells = [[fmt(c, v) for c, v in zip(cols, row)] for row in df.itertuples(index=False)]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(cols)]
    left = {"bundle", "model"}

    def line(values: list[str]) -> str:
        return "  ".join(v.ljust(w) if c in left else v.rjust(w)
                         for c, v, w in zip(cols, values, widths)).rstrip()

    out = [line(cols), line(["-" * w for w in widths])]
    out += [line(r) for r in cells]
    return "\n".join(out)


def _plain(x) -> str:
    """Text from a file (a column name, a bundle name) safe to print on a terminal: control
    characters shown escaped."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in str(x))


def knn_report(results: list[dict[str, Any]], k: int) -> list[str]:
    """Plain lines under the table: how the k-NN columns were scored, which columns were
    scored (with their classes) and which were not, and why; said once per distinct set."""
    lines: list[str] = []
    seen: set[str] = set()
    for res in results:
        cls = res.get("knn_classes", {})
        split = res.get("knn_split") or {}
        how = (f"split stratified by {_plain(split['stratify'])}" if split.get("stratify")
               else "the bundle's train -> validation split")
        dup = res.get("duplicates") or {}
        text = [f"k-NN: top-1 accuracy of a {k}-NN vote, {how} ({split.get('n_train', '?')} -> "
                f"{split.get('n_val', '?')} items; pixel-identical duplicates on one side"
                + (f", {dup['val_left_out']} validation twins of training items left out"
                   if dup.get("val_left_out") else "") + "); 'majority class' = always "
                "guessing the commonest training value"]
        if res.get("knn_columns"):
            text.append("  scored: " + ", ".join(
                f"{_plain(c)} ({cls[c]} classes in training)" if c in cls else _plain(c)
                for c in res["knn_columns"]))
        skipped = res.get("knn_skipped") or {}
        if skipped:
            text.append("  not scored (name one in --columns to score its values as classes): "
                        + "; ".join(f"{_plain(c)}: {why}" for c, why in skipped.items()))
        key = "\n".join(text)
        if key in seen:
            continue
        seen.add(key)
        lines += [f"{_plain(res['name'])}: {text[0]}"] + text[1:]
    return lines


def posterior_report(results: list[dict[str, Any]], share: float = 0.5) -> list[str]:
    """A line for each bundle whose posterior log-variances mostly sit on the encoder's floor
    (evaluate.posterior_floor): its KL and active dims then say little."""
    lines = []
    for res in results:
        p = res.get("posterior") or {}
        if p.get("share", 0.0) < share:
            continue
        how_many = ("every posterior log-variance sits" if p["share"] >= 1.0
                    else f"{p['share']:.0%} of the posterior log-variances sit")
        lines.append(
            f"{_plain(res['name'])}: {how_many} on the encoder's "
            f"floor ({p['floor']:g}; {p['dims']} of {res['latent_dim']} dimensions wholly): "
            "the codes act as an autoencoder's, so KL and active dims say little (active: by "
            "the variance of the means when every one does); the sliders and maps use the "
            "catalogue's own spread")
    return lines


def json_safe(x):
    """x with numpy scalars and arrays as Python values and non-finite floats as None (for
    json.dumps)."""
    if isinstance(x, dict):
        return {str(k): json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_safe(v) for v in x]
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(float(x)) else None
    if isinstance(x, np.ndarray):
        return json_safe(x.tolist())
    return x
