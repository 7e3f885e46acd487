"""scikit-learn's scores of a predictions.csv (key,label,p:CLASS...), for
crates/metrics/tests/sklearn_match.rs. Prints one JSON object; undefined
values are null.

usage: sklearn_scores.py PREDICTIONS.csv THRESHOLD
"""
import json
import math
import sys

import numpy as np
import pandas as pd
from sklearn import metrics


def plain(value):
    value = float(value)
    return None if math.isnan(value) else value


def main():
    path, threshold = sys.argv[1], float(sys.argv[2])
    table = pd.read_csv(path, dtype={"key": str}, float_precision="round_trip")
    y = table["label"].to_numpy()
    p = table[[c for c in table.columns if c.startswith("p:")]].to_numpy()
    k = p.shape[1]
    labels = list(range(k))
    if k == 2:
        predicted = (p[:, 1] >= threshold).astype(int)
    else:
        predicted = np.argmax(p, axis=1)  # the first maximum on ties
    precision, recall, f1, support = metrics.precision_recall_fscore_support(
        y, predicted, labels=labels, zero_division=np.nan)
    result = {
        "log_loss": metrics.log_loss(y, p, labels=labels),
        "accuracy": metrics.accuracy_score(y, predicted),
        "macro_f1": metrics.f1_score(y, predicted, average="macro", zero_division=0),
        "balanced_accuracy": metrics.balanced_accuracy_score(y, predicted),
        "confusion_matrix": metrics.confusion_matrix(y, predicted, labels=labels).tolist(),
        "precision": [plain(v) for v in precision],
        "recall": [plain(v) for v in recall],
        "f1": [plain(v) for v in f1],
        "support": [int(v) for v in support],
        "top5_accuracy": metrics.top_k_accuracy_score(y, p, k=5, labels=labels) if k > 5 else None,
    }
    present = sorted(set(y.tolist()))
    if k == 2:
        result["roc_auc"] = metrics.roc_auc_score(y, p[:, 1]) if len(present) == 2 else None
    elif len(present) == k:
        result["roc_auc"] = metrics.roc_auc_score(y, p, multi_class="ovr", average="macro")
    else:
        # scikit-learn refuses a class absent from y_true; the mean over the
        # present classes' one-vs-rest AUCs is what effprobe reports then.
        result["roc_auc"] = float(np.mean([metrics.roc_auc_score(y == c, p[:, c]) for c in present]))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
