"""Reference numbers for crates/report/tests/stats.rs, from scipy: Wilson
intervals, McNemar's exact test (the two-sided binomial test on the discordant
pairs, as statsmodels' mcnemar(exact=True) computes it) and percentile bootstrap
intervals of a mean log-loss and a ROC-AUC. Writes JSON to stdout; the committed
copy is tests/fixtures/stats_reference.json.

usage: stats_reference.py > crates/report/tests/fixtures/stats_reference.json
"""
import json

import numpy as np
import scipy
from scipy import stats
from sklearn.metrics import roc_auc_score

wilson = []
for k, n in [(0, 10), (3, 10), (10, 10), (143, 153), (1412, 1524), (1, 2)]:
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    wilson.append({"successes": k, "n": n, "low": ci.low, "high": ci.high})

mcnemar = []
for b, c in [(1, 9), (5, 5), (0, 6), (12, 30), (40, 61), (3, 0)]:
    p = stats.binomtest(min(b, c), b + c, 0.5).pvalue if b + c else 1.0
    mcnemar.append({"only_first": b, "only_second": c, "p_value": min(1.0, p)})

rng = np.random.default_rng(20261201)
n = 300
labels = (rng.random(n) < 0.45).astype(int)
p1 = np.clip(1 / (1 + np.exp(-(2.2 * (labels - 0.5) + rng.normal(0, 1.1, n)))), 1e-6, 1 - 1e-6)
p_true = np.where(labels == 1, p1, 1 - p1)
loss = stats.bootstrap((-np.log(p_true),), np.mean, n_resamples=20000, method="percentile",
                       confidence_level=0.95, random_state=np.random.default_rng(7))
auc = stats.bootstrap((np.arange(n),), lambda idx: roc_auc_score(labels[idx.astype(int)], p1[idx.astype(int)]),
                      n_resamples=5000, method="percentile", confidence_level=0.95,
                      random_state=np.random.default_rng(7), vectorized=False)
print(json.dumps({
    "scipy": scipy.__version__,
    "wilson": wilson,
    "mcnemar": mcnemar,
    "bootstrap": {
        "labels": labels.tolist(),
        "p1": p1.tolist(),
        "log_loss": float(np.mean(-np.log(p_true))),
        "log_loss_interval": [loss.confidence_interval.low, loss.confidence_interval.high],
        "roc_auc": float(roc_auc_score(labels, p1)),
        "roc_auc_interval": [auc.confidence_interval.low, auc.confidence_interval.high],
    },
}, indent=1))
