"""Helpers for bench/gpu_seed_scale.sh (benchmarks only, never the product).

  seed_scale.py subset SRC DST COUNT
      DST/CLASS/* = a proportional subset of the flat dataset SRC/CLASS/*: the
      first files (sorted by name) of each class, hard-linked (copied where
      links fail), COUNT in all (each class keeps its share, at least one).
  seed_scale.py error REF.parquet OTHER.parquet
      Max relative error of OTHER's pooled features against REF's, rows
      matched by key: per image max|a - ref| / max|ref|, the worst image.
  seed_scale.py summary WORK --images N ... (see gpu_seed_scale.sh)
      The one summary table, from WORK/steps.tsv, WORK/json/*.json and the
      feature files under WORK/runs/.
"""
import argparse
import json
import os
import shutil
import sys

SEED_MINUTES = 694  # the seed experiment: B0..B7, 10 epochs through the frozen backbone each
SEED_IMAGES = 22640
VARIANTS = [f"b{i}" for i in range(8)]


def subset(src, dst, count):
    classes = sorted(d for d in os.listdir(src) if os.path.isdir(os.path.join(src, d)) and not d.startswith("."))
    files = {c: sorted(f for f in os.listdir(os.path.join(src, c)) if not f.startswith(".")) for c in classes}
    total = sum(len(v) for v in files.values())
    count = min(count, total)
    take = {c: max(1, round(count * len(files[c]) / total)) for c in classes}
    # Rounding may miss the count by one or two: adjust the largest class.
    largest = max(classes, key=lambda c: len(files[c]))
    take[largest] = max(1, take[largest] + count - sum(take.values()))
    for c in classes:
        os.makedirs(os.path.join(dst, c), exist_ok=True)
        for name in files[c][: take[c]]:
            a, b = os.path.join(src, c, name), os.path.join(dst, c, name)
            try:
                os.link(a, b)
            except OSError:
                shutil.copyfile(a, b)
    print(f"subset: {sum(min(take[c], len(files[c])) for c in classes)} images under {dst}")


def max_relative_error(ref_path, other_path):
    import numpy as np
    import pyarrow.parquet as pq

    def rows(path):
        table = pq.read_table(path, columns=["key", "feature"])
        keys = table.column("key").to_pylist()
        feature = table.column("feature").combine_chunks()
        dim = feature.type.list_size
        values = feature.flatten().to_numpy(zero_copy_only=False).reshape(len(keys), dim)
        return dict(zip(keys, values))

    ref, other = rows(ref_path), rows(other_path)
    if set(ref) != set(other):
        raise ValueError(f"{other_path} and {ref_path} hold different images")
    worst, overall_diff, overall_ref = 0.0, 0.0, 0.0
    for key, r in ref.items():
        diff = float(np.abs(other[key].astype(np.float64) - r).max())
        scale = float(np.abs(r).max())
        worst = max(worst, diff / scale if scale > 0 else (0.0 if diff == 0 else float("inf")))
        overall_diff, overall_ref = max(overall_diff, diff), max(overall_ref, scale)
    return {"images": len(ref), "max_rel_per_image": worst,
            "max_abs": overall_diff, "max_abs_ref": overall_ref}


# ---------------------------------------------------------------- summary

def fmt(value, digits=1):
    if value is None or value == "":
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}f}"


def yes_no(ok):
    return "-" if ok is None else ("yes" if ok else "NO")


def summary(args):
    work = args.work
    steps = {}
    with open(os.path.join(work, "steps.tsv")) as f:
        for line in f:
            name, status, seconds, mib = (line.rstrip("\n").split("\t") + ["", "", ""])[:4]
            steps[name] = {"status": status, "seconds": float(seconds) if seconds not in ("", "-") else None,
                           "mib": mib if mib not in ("", "-") else "n/a"}

    def run(name):
        path = os.path.join(work, "json", f"{name}.json")
        try:
            with open(path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def state(name):
        s = steps.get(name)
        return s["status"] if s else "not run"

    rows = []

    def add(what, images=None, wall=None, fwd=None, e2e=None, ratio=None, decode=None, batch=None, mib=None,
            result=None, target=None, met=None):
        rows.append([what, fmt(images), fmt(wall), fmt(fwd), fmt(e2e), fmt(ratio, 2), fmt(decode),
                     fmt(batch), fmt(mib), fmt(result), fmt(target), yes_no(met)])

    full = args.run_images == SEED_IMAGES
    scale_note = "" if full else f" (projected from {args.run_images})"

    # 1. doctor
    add("extract doctor" + (" --require-cuda" if args.gpu else ""), result=state("doctor"))

    # 2. dataset
    d = steps.get("dataset")
    made = ""
    try:
        with open(os.path.join(work, "logs", "dataset.out")) as f:
            line = [x for x in f if "MB of JPEG" in x][-1]
            made = line.split(": ")[-1].split(" of JPEG")[0] + ", " + line.split(" with ")[-1].strip()
    except (OSError, IndexError):
        made = state("dataset")
    if d and d["status"] == "ok":
        projected = d["seconds"] * SEED_IMAGES / args.images
        add("dataset: make_photo_dataset.py", args.images, d["seconds"], result=made,
            target="<= 90 s at 22,640" + ("" if args.images == SEED_IMAGES else f" (projected {projected:.0f} s)"),
            met=projected <= 90)
    else:
        add("dataset: make_photo_dataset.py", args.images, result=state("dataset"))

    # 3. all variants in one decode pass
    a, s = run("all-bf16"), steps.get("all-bf16")
    if a and s and s["status"] == "ok":
        wall = s["seconds"]
        projected = wall * SEED_IMAGES / a["images"]
        add(f"all b0..b7 {args.precision}, one decode pass", a["images"], wall, e2e=a["images"] / wall,
            decode=a["decode_seconds"], mib=s["mib"],
            result=f"{SEED_MINUTES} min / wall = {SEED_MINUTES * 60 / projected:.3g}x" + scale_note,
            target="< 180 s at 22,640" + ("" if full else f" (projected {projected:.0f} s)"),
            met=projected < 180 and a["rejected"] == 0)
        for v in a["variants"]:
            add(f"  {v['variant']} in that run", v["computed"], fwd=v["images_per_second"], batch=v["batch_size"],
                result=f"backbone {v['backbone_seconds']:.1f} s")
    else:
        add(f"all b0..b7 {args.precision}, one decode pass", args.run_images, result=state("all-bf16"),
            target="< 180 s at 22,640", met=False)

    # 4. cache hit
    c, s = run("cache-hit"), steps.get("cache-hit")
    if c and s and s["status"] == "ok":
        computed = sum(v["computed"] for v in c["variants"])
        add("cache hit: the same command again", c["images"], s["seconds"], e2e=c["images"] / s["seconds"],
            decode=c["decode_seconds"], mib=s["mib"], result=f"decoded {c['decoded']}, computed {computed}",
            target="decoded 0", met=c["decoded"] == 0 and computed == 0)
    else:
        add("cache hit: the same command again", args.run_images, result=state("cache-hit"),
            target="decoded 0", met=False)

    # 5. single-variant runs on the subset
    single_e2e = {}
    for name, variants, precision in (("single", VARIANTS, args.precision), ("fp32", ("b0", "b7"), "fp32")):
        for variant in variants:
            step = f"{name}-{variant}"
            what = f"{variant} {precision} alone (subset)"
            r, s = run(step), steps.get(step)
            big = name == "single" and variant >= "b3"
            if not (r and s and s["status"] == "ok"):
                add(what, args.subset, result=state(step), target="e2e >= 0.90 fwd" if big else None,
                    met=False if big else None)
                continue
            v = r["variants"][0]
            e2e = v["computed"] / r["wall_seconds"] if r["wall_seconds"] > 0 else None
            ratio = e2e / v["images_per_second"] if e2e and v["images_per_second"] > 0 else None
            if name == "single":
                single_e2e[variant] = e2e
            add(what, v["computed"], s["seconds"], v["images_per_second"], e2e, ratio, r["decode_seconds"],
                v["batch_size"], s["mib"], result=f"pipeline {r['wall_seconds']:.1f} s",
                target="e2e >= 0.90 fwd" if big else None, met=(ratio is not None and ratio >= 0.9) if big else None)

    # 6. the PyTorch peer
    for variant, goal in (("b0", 1.5), ("b7", 1.0)):
        step = f"peer-{variant}"
        p, s = run(step), steps.get(step)
        what = f"peer {variant} {args.precision}: torchvision+DataLoader"
        if p and s and s["status"] == "ok":
            ours = single_e2e.get(variant)
            ratio = ours / p["images_per_second"] if ours else None
            add(what, p["images"], s["seconds"], e2e=p["images_per_second"], batch=p["batch_size"], mib=s["mib"],
                result=f"extract/peer e2e = {fmt(ratio, 2)}", target=f">= {goal}x",
                met=ratio is not None and ratio >= goal)
        else:
            add(what, args.subset, result=state(step) if step in steps else f"not run (single-{variant} {state('single-' + variant)})",
                target=f">= {goal}x", met=False)

    # 7. GPU against CPU features
    for variant in args.check_variants:
        ref_step = f"check-cpu-{variant}"
        ref = os.path.join(work, "runs", ref_step, f"{variant}.parquet")
        for kind, label, goal in (("fp32", "fp32", 1e-3), ("fp32-notf32", "fp32 TF32 off", None),
                                  ("bf16", "bf16", None)):
            step = f"check-{kind}-{variant}"
            what = f"features {variant} {args.device_kind} {label} vs cpu fp32"
            if state(ref_step) != "ok" or state(step) != "ok":
                failed = ref_step if state(ref_step) != "ok" else step
                add(what, args.check_images, result=f"{failed} {state(failed)}",
                    target=f"<= {goal:.0e}" if goal else None, met=False if goal else None)
                continue
            try:
                e = max_relative_error(ref, os.path.join(work, "runs", step, f"{variant}.parquet"))
            except Exception as error:  # noqa: BLE001 - the table must still print
                add(what, args.check_images, result=f"error: {error}",
                    target=f"<= {goal:.0e}" if goal else None, met=False if goal else None)
                continue
            add(what, e["images"], result=f"max rel err {e['max_rel_per_image']:.2e}",
                target=f"<= {goal:.0e}" if goal else None,
                met=e["max_rel_per_image"] <= goal if goal else None)

    # 8. the whole script
    add("whole script", wall=args.elapsed, result=f"budget {args.budget} s", target="<= 480 s",
        met=args.elapsed <= 480 if args.gpu else None)

    header = ["what", "images", "wall s", "fwd i/s", "e2e i/s", "e2e/fwd", "decode CPU-s", "batch",
              "GPU MiB", "result", "target", "met"]
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    left = {0, 9, 10}
    lines = [f"== summary: {args.device}, {args.images} images made, {args.run_images} in the full runs, "
             f"subset {args.subset}, features check {args.check_images}"]
    for r in [header] + rows:
        lines.append("  ".join(str(c).ljust(w) if i in left else str(c).rjust(w)
                               for i, (c, w) in enumerate(zip(r, widths))).rstrip())
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    out = os.environ.get("OUT")
    if out:
        with open(os.path.join(out, "summary.txt"), "w") as f:
            f.write(text)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("subset")
    s.add_argument("src")
    s.add_argument("dst")
    s.add_argument("count", type=int)
    e = sub.add_parser("error")
    e.add_argument("ref")
    e.add_argument("other")
    m = sub.add_parser("summary")
    m.add_argument("work")
    m.add_argument("--images", type=int, required=True)
    m.add_argument("--run-images", type=int, required=True)
    m.add_argument("--subset", type=int, required=True)
    m.add_argument("--check-images", type=int, required=True)
    m.add_argument("--check-variants", type=lambda t: [v for v in t.split(",") if v], required=True)
    m.add_argument("--device", required=True)
    m.add_argument("--precision", default="bf16")
    m.add_argument("--budget", type=int, required=True)
    m.add_argument("--elapsed", type=float, required=True)
    args = p.parse_args()
    if args.command == "subset":
        subset(args.src, args.dst, args.count)
    elif args.command == "error":
        print(json.dumps(max_relative_error(args.ref, args.other)))
    else:
        args.gpu = args.device.startswith("cuda")
        args.device_kind = "cuda" if args.gpu else args.device
        summary(args)


if __name__ == "__main__":
    main()
