"""Prints bench/head.sh's figures and target ratios from the run directory it made.

usage: head_report.py WORK_DIR
"""
import csv
import json
import sys
from pathlib import Path

work = Path(sys.argv[1])
failures = 0


def metrics(name):
    return json.loads((work / name / "metrics.json").read_text())


def verdict(ok):
    global failures
    failures += 0 if ok else 1
    return "ok" if ok else "MISSED"


def time_to_reach(run, target):
    """Seconds until the solver's objective first reaches target · (1 + 1e-6)."""
    with open(work / run / "history.csv") as f:
        for row in csv.DictReader(f):
            if row["objective"] and float(row["objective"]) <= target * (1 + 1e-6):
                return float(row["seconds"]), int(row["step"])
    return None, None


def full_batch(flavour, peers, lbfgs, runs=None):
    """The solver's time to scikit-learn's objective (the fastest of `runs`, the
    run folders), as a ratio against it."""
    chosen = lbfgs["candidates"][0]
    reached, step = min(
        (time_to_reach(run, peers["sklearn_objective"]) for run in (runs or [f"{flavour}.lbfgs"])),
        key=lambda r: float("inf") if r[0] is None else r[0],
    )
    print(f"  full batch, C=1: scikit-learn {peers['sklearn_seconds']:.2f} s ({peers['sklearn_iterations']} iterations,"
          f" objective {peers['sklearn_objective']:.9f}; the faster of its default threads,"
          f" {peers['sklearn_default_seconds']:.2f} s, and one thread, {peers['sklearn_one_thread_seconds']:.2f} s)")
    print(f"    head-train: {chosen['seconds']:.2f} s, {chosen['iterations']} iterations to |g|max {chosen['gradient_max']:.1e},"
          f" objective {chosen['objective']:.9f}")
    if reached is None:
        print(f"    head-train never reached scikit-learn's objective (target >= 2x: {verdict(False)})")
    else:
        ratio = peers["sklearn_seconds"] / reached
        print(f"    reached scikit-learn's objective (within 1e-6) at iteration {step} after {reached:.3f} s"
              f" -> {ratio:.1f}x faster (target >= 2x: {verdict(ratio >= 2)})")


peak_ratios = []
for flavour in ("gaussian", "featurelike"):
    if not (work / f"{flavour}.peers.json").exists():
        continue
    peers = json.loads((work / f"{flavour}.peers.json").read_text())
    adam = metrics(f"{flavour}.adam")
    lbfgs = metrics(f"{flavour}.lbfgs")
    ours_adam = adam["candidates"][0]["seconds"]
    print(f"\n[{flavour}] train {peers['train_rows']} x {peers['dim']}, numpy X.T@r pass {peers['floor_pass_seconds'] * 1e3:.1f} ms")
    ratio = peers["torch_seconds"] / ours_adam
    print(f"  adam 10 epochs, batch 32: head-train {ours_adam:.3f} s, PyTorch {peers['torch_seconds']:.3f} s"
          f" -> {ratio:.1f}x faster (target >= 10x: {verdict(ratio >= 10)})")
    print(f"    test accuracy {adam['splits'][2]['accuracy']:.4f}")
    full_batch(flavour, peers, lbfgs)
    for run in (adam, lbfgs):
        peak_ratios.append(run["resources"]["peak_rss_bytes"] / run["resources"]["matrix_bytes"])

if (work / "multiclass.peers.json").exists():
    peers = json.loads((work / "multiclass.peers.json").read_text())
    runs = sorted(p.name for p in work.glob("multiclass.lbfgs.*"))
    lbfgs = metrics(runs[0])
    print(f"\n[multiclass] {peers['classes']} classes, train {peers['train_rows']} x {peers['dim']}"
          f" (multinomial; head-train {lbfgs['resources']['threads']} threads; each side the fastest of"
          f" {peers['repeats']} runs)")
    full_batch("multiclass", peers, lbfgs, runs)
    print(f"    test accuracy {lbfgs['splits'][2]['accuracy']:.4f}, top-5 {lbfgs['splits'][2]['top5_accuracy']:.4f}")

if not (work / "gaussian.adam1000").exists():
    print(f"\n{failures} target(s) missed")
    sys.exit(0)
long = metrics("gaussian.adam1000")
seconds = long["candidates"][0]["seconds"]
floor = json.loads((work / "gaussian.peers.json").read_text())["floor_pass_seconds"]
epoch = seconds / long["candidates"][0]["epochs"]
print(f"\n[gaussian] adam 1000 epochs: {seconds:.1f} s (target < 60 s: {verdict(seconds < 60)})")
print(f"  one epoch {epoch * 1e3:.1f} ms (training pass + its val pass, from head-train's own clock),"
      f" numpy pass {floor * 1e3:.1f} ms: epoch / numpy-pass ratio {epoch / floor:.2f}"
      f" (target <= 2: {verdict(epoch / floor <= 2)})")
with open(work / "gaussian.adam1000" / "history.csv") as f:
    marks = [0.0] + [float(row["seconds"]) for row in csv.DictReader(f)]
durations = sorted(b - a for a, b in zip(marks, marks[1:]))
print(f"  per epoch (history.csv): median {durations[len(durations) // 2] * 1e3:.1f} ms,"
      f" 10th-90th percentile {durations[len(durations) // 10] * 1e3:.1f}-{durations[len(durations) * 9 // 10] * 1e3:.1f} ms"
      f" (the target uses the mean above)")
peak_ratios.append(long["resources"]["peak_rss_bytes"] / long["resources"]["matrix_bytes"])
print(f"  peak memory / feature matrix: worst {max(peak_ratios):.2f}x over all runs (target < 1.5x: {verdict(max(peak_ratios) < 1.5)})")
print(f"\n{failures} target(s) missed")
