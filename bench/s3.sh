#!/usr/bin/env bash
# `extract --data s3://…` against the same WebDataset shards on local disk, in one
# run on this machine: N photo-like JPEGs (default 1,000 at about 500x375) as 4 tar
# shards, uploaded to an S3-compatible server on 127.0.0.1 (moto in server mode,
# from tools/requirements.txt) and kept on disk; random B0 on the CPU, alternating
# S3 and disk, best of R runs each. Prints images/s both ways and the ratio
# S3 / disk (target >= 0.9): what reading in place over HTTP costs a real run.
# The server is Python (moto), so the ratio is a floor for a real object store.
#
# usage: bench/s3.sh [--images N] [--runs R] [--batch-size B] [--work DIR] [--keep]
#   --images      images (default 1000)
#   --runs        runs per side, the fastest kept (default 3)
#   --batch-size  extract's --batch-size (default 32)
#   --work        where to put the generated data (default: a temporary folder)
#   --keep        keep the generated data
set -euo pipefail
cd "$(dirname "$0")/.."
images=1000
runs=3
batch=32
work=""
keep=no
while [ $# -gt 0 ]; do
    case $1 in
        --images) images=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        --batch-size) batch=$2; shift 2 ;;
        --work) work=$2; shift 2 ;;
        --keep) keep=yes; shift ;;
        *) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
    esac
done
python=.venv/bin/python
extract=target/release/extract
[ -x "$extract" ] || cargo build --release -p extract
"$python" -c 'import moto.server, boto3' 2>/dev/null \
    || { echo "s3: moto is not installed in $python: run scripts/setup" >&2; exit 1; }
if [ -z "$work" ]; then
    work=$(mktemp -d)
    [ $keep = yes ] || cleanup_work=yes
fi
mkdir -p "$work"

server=""
cleanup() {
    [ -z "$server" ] || { kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true; }
    [ "${cleanup_work:-no}" = no ] || rm -rf "$work"
}
trap cleanup EXIT

timed() { local start end; start=$(date +%s.%N); "$@" >/dev/null; end=$(date +%s.%N); awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }'; }

shards="$work/shards-$images"
if [ ! -d "$shards" ]; then
    half=$((images / 2))
    "$python" tools/make_photo_dataset.py "$shards" --counts "$half,$((images - half))" --tar-shards 4 | tail -1
fi

# The server, on a free port of this machine only; the standard AWS variables
# point effprobe (and the uploader) at it.
port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$python" -m moto.server -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
server=$!
for _ in $(seq 600); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
done
(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "s3: moto did not start:" >&2; cat "$work/moto.log" >&2; exit 1; }
for name in $(env | grep -o '^AWS_[A-Z_]*'); do unset "$name"; done
export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1
"$python" tools/s3_upload.py "$shards" s3://bench/shards

run_extract() { # DATA OUT
    rm -rf "$2"
    timed "$extract" --variant b0 --weights random:1 --device cpu --batch-size "$batch" --quiet --data "$1" --out "$2"
}
disk_runs=() s3_runs=()
for _ in $(seq "$runs"); do
    disk_runs+=("$(run_extract "$shards" "$work/out-disk")")
    s3_runs+=("$(run_extract s3://bench/shards "$work/out-s3")")
done
same=$("$python" - "$work/out-disk/b0.parquet" "$work/out-s3/b0.parquet" <<'PY'
import sys, pyarrow.parquet as pq
a, b = (pq.read_table(p).sort_by("key") for p in sys.argv[1:])
print("identical" if a.equals(b) else "DIFFERENT", a.num_rows)
PY
)

awk -v n="$images" -v disk_runs="${disk_runs[*]}" -v s3_runs="${s3_runs[*]}" \
    -v same="$same" -v cores="$(nproc)" -v batch="$batch" 'BEGIN {
    k = split(disk_runs, d_, " "); split(s3_runs, s_, " ")
    d = d_[1]; s = s_[1]
    for (i = 2; i <= k; i++) { if (d_[i] < d) d = d_[i]; if (s_[i] < s) s = s_[i] }
    printf "== bench/s3.sh (%d cores): extract, random B0, CPU, batch %d, %d images in 4 WebDataset shards\n", cores, batch, n
    printf "  disk  %7.2f s  %7.1f images/s   (runs: %s)\n", d, n / d, disk_runs
    printf "  s3    %7.2f s  %7.1f images/s   (runs: %s; moto on 127.0.0.1)\n", s, n / s, s3_runs
    printf "  feature files: %s\n", same
    printf "  ratio s3 / disk: %.3f (target >= 0.9)\n", d / s
}'
