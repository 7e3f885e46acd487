#!/usr/bin/env bash
# Datasets at the seed's scale on this machine, side by side in one run:
#   1. `extract scan` over N photo-like JPEGs (default 22,640 at about 500x375, the
#      seed's 7,617 / 15,023 classes), cold then warm; target: warm <= 3 s.
#   2. `extract` (random B0, CPU) over the same M images as loose files and as
#      WebDataset tar shards, alternating, best of three each; prints images/s, the
#      ratio tar / loose and the runs' spread (target: "no slower": ratio >= 1.0
#      less the run-to-run spread of the loose runs).
#
# usage: bench/dataset.sh [--images N] [--extract-images M] [--work DIR] [--keep]
#   --images          images for the scan (default 22640)
#   --extract-images  images for the loose-vs-tar extract (default 1000)
#   --work            where to put the generated data (default: a temporary folder)
#   --keep            keep the generated data (regenerating 22,640 images takes minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
images=22640
extract_images=1000
work=""
keep=no
while [ $# -gt 0 ]; do
    case $1 in
        --images) images=$2; shift 2 ;;
        --extract-images) extract_images=$2; shift 2 ;;
        --work) work=$2; shift 2 ;;
        --keep) keep=yes; shift ;;
        *) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
    esac
done
python=.venv/bin/python
extract=target/release/extract
[ -x "$extract" ] || cargo build --release -p extract
if [ -z "$work" ]; then
    work=$(mktemp -d)
    [ $keep = yes ] || trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work"

# The seed's class proportions at any size.
counts() { awk -v n="$1" 'BEGIN { a = int(n * 7617 / 22640 + 0.5); printf "%d,%d", a, n - a }'; }
timed() { local start end; start=$(date +%s.%N); "$@" >/dev/null; end=$(date +%s.%N); awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }'; }

if [ ! -d "$work/scan-$images" ]; then
    echo "dataset: making $images photo-like JPEGs ($(counts "$images")) in $work/scan-$images"
    "$python" tools/make_photo_dataset.py "$work/scan-$images" --counts "$(counts "$images")" | tail -1
fi
files=$(find "$work/scan-$images" -type f | wc -l)
megabytes=$(du -sm "$work/scan-$images" | cut -f1)
cold=$(timed "$extract" scan --data "$work/scan-$images")
warm=$(timed "$extract" scan --data "$work/scan-$images")
warm2=$(timed "$extract" scan --data "$work/scan-$images")
best_warm=$(awk -v a="$warm" -v b="$warm2" 'BEGIN { print (a < b ? a : b) }')

loose="$work/extract-$extract_images"
tars="$work/extract-$extract_images-tar"
if [ ! -d "$loose" ]; then
    "$python" tools/make_photo_dataset.py "$loose" --counts "$(counts "$extract_images")" | tail -1
    "$python" tools/make_photo_dataset.py "$tars" --counts "$(counts "$extract_images")" --tar-shards 4 | tail -1
fi
run_extract() { # DATA OUT
    rm -rf "$2"
    timed "$extract" --variant b0 --weights random:1 --device cpu --batch-size 32 --quiet --data "$1" --out "$2"
}
loose_runs=() tar_runs=()
for _ in 1 2 3; do
    loose_runs+=("$(run_extract "$loose" "$work/out-loose")")
    tar_runs+=("$(run_extract "$tars" "$work/out-tar")")
done
rows() { "$python" -c 'import sys, pyarrow.parquet as pq; print(pq.read_metadata(sys.argv[1]).num_rows)' "$1"; }
loose_rows=$(rows "$work/out-loose/b0.parquet")
tar_rows=$(rows "$work/out-tar/b0.parquet")

awk -v files="$files" -v mb="$megabytes" -v cold="$cold" -v warm="$best_warm" \
    -v n="$extract_images" -v loose_runs="${loose_runs[*]}" -v tar_runs="${tar_runs[*]}" \
    -v lr="$loose_rows" -v tr="$tar_rows" -v cores="$(nproc)" 'BEGIN {
    nl = split(loose_runs, lr_, " "); split(tar_runs, tr_, " ")
    l = lr_[1]; lmax = lr_[1]; t = tr_[1]
    for (i = 2; i <= nl; i++) { if (lr_[i] < l) l = lr_[i]; if (lr_[i] > lmax) lmax = lr_[i]; if (tr_[i] < t) t = tr_[i] }
    spread = (lmax - l) / l
    printf "== bench/dataset.sh (%d cores)\n", cores
    printf "scan     %d files, %d MB: cold %.2f s, warm %.2f s (best of 2)  target warm <= 3 s: %s\n", files, mb, cold, warm, (warm <= 3 ? "met" : "MISSED")
    printf "extract  %d images, random B0, CPU, best of %d (runs: loose %s s, tar %s s)\n", n, nl, loose_runs, tar_runs
    printf "         loose files  %6.1f s  %6.2f images/s  (%d rows)\n", l, lr / l, lr
    printf "         tar shards   %6.1f s  %6.2f images/s  (%d rows)\n", t, tr / t, tr
    ratio = (tr / t) / (lr / l)
    printf "ratio    %.3f  (tar / loose images per second; loose runs spread %.1f%%; target >= %.3f, no slower within that: %s)\n", ratio, 100 * spread, 1 - spread, (ratio >= 1 - spread ? "met" : "MISSED")
}'
