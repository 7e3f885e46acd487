"""The Python peers of head-train on one feature file, timed in this process.

* torch: nn.Linear + Adam (Keras' lr/betas/eps), batch 32, shuffled, BCE-with-logits
  or cross-entropy, 10 epochs (the seed's recipe, as a PyTorch user writes it);
* sklearn: LogisticRegression(lbfgs, C) with C = 1 / (l2 · n_train), max_iter 1000,
  and its final objective in head-train's form: mean log-loss + l2/2 · ‖w‖²;
* floor: one numpy pass X.T @ r over the training matrix (median of 20).

Prints one JSON object. usage: head_peers.py FEATURES.parquet L2
"""
import json
import sys
import time

import numpy as np
import pyarrow.parquet as pq
import torch
from sklearn.linear_model import LogisticRegression


def load(path):
    table = pq.read_table(path, columns=["label", "split", "feature"])
    dim = table.schema.field("feature").type.list_size
    x = np.asarray(table["feature"].combine_chunks().values, dtype=np.float32).reshape(-1, dim)
    y = table["label"].to_numpy()
    split = np.asarray(table["split"].to_pylist())
    train = split == "train"
    return np.ascontiguousarray(x[train]), y[train]


def objective(x, y, coef, intercept, l2):
    z = x.astype(np.float64) @ coef.astype(np.float64) + intercept
    return float(np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * l2 * np.dot(coef, coef))


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
    x, y = load(path)
    n = len(y)
    result = {"train_rows": n, "dim": x.shape[1], "torch_threads": torch.get_num_threads()}

    r = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    times = []
    for _ in range(20):
        start = time.perf_counter()
        x.T @ r
        times.append(time.perf_counter() - start)
    result["floor_pass_seconds"] = float(np.median(times))

    result["torch_seconds"] = torch_adam(x, y)
    result["torch_epoch_seconds"] = result["torch_seconds"] / 10

    start = time.perf_counter()
    model = LogisticRegression(C=1.0 / (l2 * n), solver="lbfgs", max_iter=1000)
    model.fit(x, y)
    result["sklearn_seconds"] = time.perf_counter() - start
    result["sklearn_iterations"] = int(model.n_iter_[0])
    result["sklearn_objective"] = objective(x, y, model.coef_[0], model.intercept_[0], l2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
