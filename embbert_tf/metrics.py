"""Task metrics as the reference code computes them (spec §4.4): accuracy, MCC, weighted F1, Spearman."""
from __future__ import annotations

import numpy as np
from scipy import stats
from sklearn import metrics as skm


def predictions(logits: np.ndarray, regression: bool) -> np.ndarray:
    logits = np.asarray(logits)
    return logits.reshape(-1) if regression else logits.argmax(-1)


def compute(labels: np.ndarray, logits: np.ndarray, regression: bool) -> dict[str, float]:
    """All metrics that apply: classification gets accuracy, MCC, weighted F1; regression Spearman, Pearson."""
    pred = predictions(logits, regression)
    if regression:
        return {
            "spearman": float(stats.spearmanr(labels, pred).statistic),
            "pearson": float(stats.pearsonr(labels, pred).statistic),
        }
    return {
        "accuracy": float(skm.accuracy_score(labels, pred)),
        "mcc": float(skm.matthews_corrcoef(labels, pred)),
        "f1_weighted": float(skm.f1_score(labels, pred, average="weighted")),
    }


def agreement(logits_a: np.ndarray, logits_b: np.ndarray, regression: bool) -> dict[str, float]:
    """How closely two runtimes agree: argmax agreement (or max |diff| for regression) and logit error."""
    a, b = np.asarray(logits_a, np.float64), np.asarray(logits_b, np.float64)
    out = {"max_abs_diff": float(np.abs(a - b).max()), "mean_abs_diff": float(np.abs(a - b).mean())}
    if not regression:
        out["argmax_agreement"] = float((a.argmax(-1) == b.argmax(-1)).mean())
    return out
