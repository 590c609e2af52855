"""A run's summary: per method and metric the mean, a 95% bootstrap interval and n.

Bootstrap (Efron & Tibshirani 1993, the percentile interval): resample the per-image
values with replacement B times (B = 2000, a fixed seed so a summary is reproducible),
take each resample's mean; the interval is the 2.5th and 97.5th percentiles of those
means. Missing values (a metric that needs a box on an image without one) are left out,
so n can differ between metrics.

Files: summary.csv, summary.md (the same table), summary.pdf (matplotlib's object API,
no pyplot: one panel per metric with the methods' means and intervals, then the mean
deletion and insertion curves per method).
"""
from __future__ import annotations

import csv
import io
import os

import numpy as np

from ..outputs import write_file
from .metrics import COLUMNS

B, SEED, LEVEL = 2000, 0, 0.95
LABELS = {"deletion_auc": "deletion AUC (lower is better)",
          "insertion_auc": "insertion AUC (higher is better)",
          "average_drop": "average drop (lower is better)",
          "increase_in_confidence": "increase in confidence (higher is better)",
          "pointing_game": "pointing game (higher is better)",
          "energy_pointing_game": "energy pointing game (higher is better)"}


def bootstrap_ci(values, b: int = B, seed: int = SEED, level: float = LEVEL) -> tuple[float, float, float, int]:
    """(mean, low, high, n) of the finite values; NaNs for no value."""
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    n = len(v)
    if n == 0:
        return float("nan"), float("nan"), float("nan"), 0
    rng = np.random.default_rng(seed)
    means = np.empty(b)
    step = max(1, 4_000_000 // n)  # resamples per block: bounded memory for big runs
    for s in range(0, b, step):
        k = min(step, b - s)
        means[s:s + k] = v[rng.integers(0, n, (k, n))].mean(axis=1)
    alpha = (1.0 - level) / 2
    lo, hi = np.quantile(means, [alpha, 1.0 - alpha])
    return float(v.mean()), float(lo), float(hi), n


def summarise(table, methods: list[str], metric_columns: list[str]) -> list[dict]:
    """Rows (method, metric, mean, ci_low, ci_high, n) from a results table (pyarrow)."""
    method_col = np.asarray(table.column("method").to_pylist(), dtype=object)
    out = []
    for method in methods:
        sel = method_col == method
        for col in metric_columns:
            vals = np.asarray(table.column(col).to_numpy(zero_copy_only=False), np.float64)[sel]
            mean, lo, hi, n = bootstrap_ci(vals)
            out.append({"method": method, "metric": col, "mean": mean, "ci_low": lo,
                        "ci_high": hi, "n": n})
    return out


def mean_curves(table, methods: list[str]) -> dict:
    """{(method, 'deletion'|'insertion'): mean curve} over the rows that have one."""
    out = {}
    method_col = table.column("method").to_pylist()
    for mode in ("deletion", "insertion"):
        curves = table.column(f"{mode}_curve").to_pylist()
        for method in methods:
            cs = [c for m, c in zip(method_col, curves) if m == method and c]
            if cs:
                out[(method, mode)] = np.mean(np.asarray(cs, np.float64), axis=0)
    return out


def write_all(run_dir: str, table, methods: list[str], metrics: list[str], title: str = "") -> list[dict]:
    cols = [COLUMNS[m] for m in metrics]
    rows = summarise(table, methods, cols)
    write_csv(os.path.join(run_dir, "summary.csv"), rows)
    write_md(os.path.join(run_dir, "summary.md"), rows, title)
    write_pdf(os.path.join(run_dir, "summary.pdf"), rows, mean_curves(table, methods), title)
    return rows


def write_csv(path: str, rows: list[dict]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["method", "metric", "mean", "ci_low", "ci_high", "n"])
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if isinstance(v, float) and v != v else v) for k, v in r.items()})
    _write_text(path, buf.getvalue())


def write_md(path: str, rows: list[dict], title: str = "") -> None:
    lines = [f"# {title or 'Summary'}", "",
             f"Mean per image, with the {LEVEL:.0%} bootstrap interval ({B} resamples); "
             "n = images with a value.", "",
             "| method | metric | mean | 95% CI | n |", "|---|---|---|---|---|"]
    for r in rows:
        if r["n"]:
            lines.append(f"| {r['method']} | {r['metric']} | {r['mean']:.4f} | "
                         f"[{r['ci_low']:.4f}, {r['ci_high']:.4f}] | {r['n']} |")
        else:
            lines.append(f"| {r['method']} | {r['metric']} | – | – | 0 |")
    _write_text(path, "\n".join(lines) + "\n")


def figures(rows: list[dict], curves: dict, title: str = ""):
    """The summary's matplotlib Figures (object API): metrics with intervals, mean curves."""
    from matplotlib.figure import Figure

    methods = list(dict.fromkeys(r["method"] for r in rows))
    metrics = list(dict.fromkeys(r["metric"] for r in rows))
    ncol = min(3, max(1, len(metrics)))
    nrow = -(-len(metrics) // ncol) if metrics else 1
    fig = Figure(figsize=(3.6 * ncol, 2.8 * nrow + 0.6), layout="constrained")
    fig.suptitle(title or "Metrics per method (mean, 95% bootstrap interval)")
    y = np.arange(len(methods))
    for k, metric in enumerate(metrics):
        ax = fig.add_subplot(nrow, ncol, k + 1)
        sel = {r["method"]: r for r in rows if r["metric"] == metric}
        mean = np.array([sel[m]["mean"] for m in methods], float)
        lo = np.array([sel[m]["ci_low"] for m in methods], float)
        hi = np.array([sel[m]["ci_high"] for m in methods], float)
        ok = np.isfinite(mean)
        ax.errorbar(mean[ok], y[ok], xerr=np.vstack([mean[ok] - lo[ok], hi[ok] - mean[ok]]),
                    fmt="o", capsize=3, color="C0")
        ax.set_yticks(y, methods)
        ax.set_xlim(-0.02, 1.02)
        ax.invert_yaxis()
        ax.set_title(LABELS.get(metric, metric), fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    out = [fig]
    if curves:
        fig2 = Figure(figsize=(8, 3.2), layout="constrained")
        fig2.suptitle("Mean deletion and insertion curves")
        for k, mode in enumerate(("deletion", "insertion")):
            ax = fig2.add_subplot(1, 2, k + 1)
            for j, m in enumerate(methods):
                c = curves.get((m, mode))
                if c is not None:
                    ax.plot(np.linspace(0, 1, len(c)), c, label=m, color=f"C{j}")
            ax.set_xlabel("fraction of pixels " + ("removed" if mode == "deletion" else "inserted"))
            ax.set_ylabel("class confidence")
            ax.set_title(mode)
            ax.grid(alpha=0.3)
            if ax.get_legend_handles_labels()[0]:  # a mode not computed has no curves
                ax.legend(fontsize=8)
        out.append(fig2)
    return out


def write_pdf(path: str, rows: list[dict], curves: dict, title: str = "") -> None:
    from matplotlib.backends.backend_pdf import PdfPages

    figs = figures(rows, curves, title)

    def write(tmp):
        with PdfPages(tmp) as pdf:
            for f in figs:
                pdf.savefig(f)

    write_file(path, write)


def _write_text(path: str, text: str) -> None:
    def write(tmp):
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(text)

    write_file(path, write)
