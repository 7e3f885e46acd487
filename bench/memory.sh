#!/usr/bin/env bash
# extract's memory and kernel time at the seed's scale on this machine: pretrained
# Lite0 on the CPU over 4,000 and 22,640 photo-like JPEGs (the seed's class
# proportions), a fresh output folder each time. Prints per run the peak RSS
# (GNU time), the system-time share of all CPU time, minor page faults per image
# and images/s, and the peak-RSS ratio 22,640 / 4,000 (target <= 1.2: memory does
# not grow with the dataset) and the system-time share (goal < 10%).
#
# usage: bench/memory.sh [--work DIR] [--before EXTRACT]
#   --work    where the generated images are kept (default: a temporary folder)
#   --before  an older extract binary to measure beside this one, in the same run
set -euo pipefail
cd "$(dirname "$0")/.."
work=""
before=""
while [ $# -gt 0 ]; do
    case $1 in
        --work) work=$2; shift 2 ;;
        --before) before=$2; shift 2 ;;
        *) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
    esac
done
python=.venv/bin/python
extract=target/release/extract
weights=data/weights/lite0.safetensors
[ -x "$extract" ] || cargo build --release -p extract
[ -f "$weights" ] || { echo "memory: $weights missing: run scripts/setup" >&2; exit 1; }
if [ -z "$work" ]; then
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work"
counts() { awk -v n="$1" 'BEGIN { a = int(n * 7617 / 22640 + 0.5); printf "%d,%d", a, n - a }'; }
for n in 4000 22640; do
    [ -d "$work/photos-$n" ] || "$python" tools/make_photo_dataset.py "$work/photos-$n" --counts "$(counts "$n")" | tail -1
done

measure() { # LABEL BINARY IMAGES
    local out="$work/out" log="$work/time.log"
    rm -rf "$out"
    /usr/bin/time -f "%e %U %S %M %R" -o "$log" "$2" --variant lite0 --weights "$weights" \
        --data "$work/photos-$3" --out "$out" --device cpu --quiet
    read -r wall user system rss_kb minor <"$log"
    awk -v label="$1" -v n="$3" -v wall="$wall" -v user="$user" -v sys="$system" \
        -v rss="$rss_kb" -v minor="$minor" 'BEGIN {
        printf "%-7s %6d images  %7.1f s  %6.1f images/s  peak RSS %6.0f MB  system %5.1f%% of %6.0f CPU-s  %6.0f faults/image\n",
            label, n, wall, n / wall, rss / 1024, 100 * sys / (user + sys), user + sys, minor / n
    }'
    echo "$1 $3 $rss_kb" >>"$work/rss"
}
rm -f "$work/rss"
echo "== bench/memory.sh: Lite0, CPU, $(nproc) cores"
for n in 4000 22640; do
    [ -z "$before" ] || measure before "$before" "$n"
    measure after "$extract" "$n"
done
awk '{ rss[$1 " " $2] = $3 } END {
    split("before after", labels, " ")
    for (i = 1; i <= 2; i++) {
        l = labels[i]
        if ((l " 4000") in rss && (l " 22640") in rss)
            printf "%-7s peak RSS 22,640 / 4,000 images = %.2f (target <= 1.2)\n", l, rss[l " 22640"] / rss[l " 4000"]
    }
}' "$work/rss"
