"""The Python peers of head-train on one feature file, timed in this process.

* torch: nn.Linear + Adam (Keras' lr/betas/eps), batch 32, shuffled, BCE-with-logits
  or cross-entropy, 10 epochs (the seed's recipe, as a PyTorch user writes it);
* sklearn: LogisticRegression(lbfgs, C) with C = 1 / (l2 · n_train), max_iter 1000
  (multinomial for more than two classes), and its final objective in
  head-train's form: mean log-loss + l2/2 · ‖W‖² (bias unpenalised). Fitted
  twice, with its default threads and with BLAS/OpenMP held to one thread
  (threadpoolctl): the faster is the peer, the default printed beside it (on a
  busy machine the threaded BLAS can take ten times as long);
* floor: one numpy pass X.T @ r over the training matrix (median of 20).

Prints one JSON object. usage: head_peers.py FEATURES.parquet L2 [--sklearn-only] [--repeats N]
(--sklearn-only: the full-batch peer alone, for the many-class case; --repeats:
each scikit-learn configuration fitted N times, the fastest kept)
"""
import contextlib
import json
import sys
import time

import numpy as np
import pyarrow.parquet as pq
import torch
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits


def load(path):
    table = pq.read_table(path, columns=["label", "split", "feature"])
    dim = table.schema.field("feature").type.list_size
    x = np.asarray(table["feature"].combine_chunks().values, dtype=np.float32).reshape(-1, dim)
    y = table["label"].to_numpy()
    split = np.asarray(table["split"].to_pylist())
    train = split == "train"
    return np.ascontiguousarray(x[train]), y[train]


def objective(x, y, coef, intercept, l2):
    """head-train's objective at scikit-learn's solution, in float64."""
    coef = coef.astype(np.float64)
    if coef.shape[0] == 1:
        z = x.astype(np.float64) @ coef[0] + intercept[0]
        loss = np.logaddexp(0.0, z) - y * z
    else:
        z = x.astype(np.float64) @ coef.T + intercept
        top = z.max(axis=1)
        loss = top + np.log(np.exp(z - top[:, None]).sum(axis=1)) - z[np.arange(len(y)), y]
    return float(np.mean(loss) + 0.5 * l2 * np.sum(coef * coef))


def torch_adam(x, y, epochs=10, batch=32):
    torch.manual_seed(0)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.float32))
    model = torch.nn.Linear(x.shape[1], 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(xt))
        for i in range(0, len(xt), batch):
            index = order[i:i + batch]
            optimizer.zero_grad()
            loss = loss_fn(model(xt[index]).squeeze(1), yt[index])
            loss.backward()
            optimizer.step()
    return time.perf_counter() - start


def main():
    path, l2 = sys.argv[1], float(sys.argv[2])
    sklearn_only = "--sklearn-only" in sys.argv[3:]
    repeats = int(sys.argv[sys.argv.index("--repeats") + 1]) if "--repeats" in sys.argv else 1
    x, y = load(path)
    n = len(y)
    result = {"train_rows": n, "dim": x.shape[1], "classes": int(y.max()) + 1,
              "torch_threads": torch.get_num_threads()}
    result["repeats"] = repeats
    if sklearn_only:
        sklearn_fit(x, y, l2, result, repeats)
        print(json.dumps(result))
        return

    r = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    times = []
    for _ in range(20):
        start = time.perf_counter()
        x.T @ r
        times.append(time.perf_counter() - start)
    result["floor_pass_seconds"] = float(np.median(times))

    result["torch_seconds"] = torch_adam(x, y)
    result["torch_epoch_seconds"] = result["torch_seconds"] / 10

    sklearn_fit(x, y, l2, result, repeats)
    print(json.dumps(result))


def sklearn_fit(x, y, l2, result, repeats=1):
    seconds = {}
    for config in ("default", "one_thread"):
        limit = threadpool_limits(1) if config == "one_thread" else contextlib.nullcontext()
        with limit:
            for _ in range(repeats):
                start = time.perf_counter()
                model = LogisticRegression(C=1.0 / (l2 * len(y)), solver="lbfgs", max_iter=1000)
                model.fit(x, y)
                elapsed = time.perf_counter() - start
                seconds[config] = min(elapsed, seconds.get(config, elapsed))
    best = min(seconds, key=seconds.get)
    result["sklearn_seconds"] = seconds[best]
    result["sklearn_config"] = best
    result["sklearn_default_seconds"] = seconds["default"]
    result["sklearn_one_thread_seconds"] = seconds["one_thread"]
    result["sklearn_iterations"] = int(model.n_iter_[0])
    result["sklearn_objective"] = objective(x, y, model.coef_, model.intercept_, l2)


if __name__ == "__main__":
    main()
