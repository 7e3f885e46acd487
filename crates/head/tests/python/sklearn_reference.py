"""scikit-learn's answer to the full-batch problem of head-train, as JSON.

Reads an effprobe feature file with pyarrow, fits LogisticRegression(lbfgs) on the
train split with C = 1 / (l2 · n_train), tol 1e-10, and reports the coefficients
and the objective in head-train's form, mean log-loss + l2/2 · ‖W‖² (bias
unpenalised), computed in float64.

usage: sklearn_reference.py FEATURES.parquet L2 [balanced]
"""
import json
import sys

import numpy as np
import pyarrow.parquet as pq
from scipy.special import logsumexp
from sklearn.linear_model import LogisticRegression

path, l2 = sys.argv[1], float(sys.argv[2])
class_weight = "balanced" if len(sys.argv) > 3 and sys.argv[3] == "balanced" else None
table = pq.read_table(path)
dim = table.schema.field("feature").type.list_size
x = np.asarray(table["feature"].combine_chunks().values, dtype=np.float32).reshape(-1, dim).astype(np.float64)
y = table["label"].to_numpy()
train = np.asarray(table["split"].to_pylist()) == "train"
x, y = x[train], y[train]
n = len(y)

model = LogisticRegression(C=1.0 / (l2 * n), tol=1e-10, max_iter=100000, class_weight=class_weight)
model.fit(x, y)
classes = len(model.classes_)
weights = np.ones(n)
if class_weight == "balanced":
    counts = np.bincount(y, minlength=classes)
    weights = (n / (classes * counts))[y]
if classes == 2:
    z = x @ model.coef_[0] + model.intercept_[0]
    losses = np.logaddexp(0.0, z) - y * z
else:
    z = x @ model.coef_.T + model.intercept_
    losses = logsumexp(z, axis=1) - z[np.arange(n), y]
objective = float(np.mean(weights * losses) + 0.5 * l2 * np.sum(model.coef_ ** 2))
print(json.dumps({
    "coef": model.coef_.tolist(),
    "intercept": model.intercept_.tolist(),
    "objective": objective,
    "iterations": int(np.max(model.n_iter_)),
}))
