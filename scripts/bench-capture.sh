#!/usr/bin/env bash
# Measures `kvs capture --source test://` into `kvs serve` for SECONDS (default
# 60): resident memory every 5 s, peak, and the CPU share of one core; and, in
# the same run, the same measures for ffmpeg passing the same clip through in
# real time (-re -c copy). Prints a markdown table, then the load average
# before and after. Run it under `flock /tmp/bench.lock` on a shared machine.
#
# KVSKIT_BENCH_CLIP=FILE plays FILE instead of the sample clip
# (`--source test:///FILE`, held in memory by the source), for example a
# 1080p recording; the peer then loops the same file.
set -euo pipefail
secs=${1:-60}
clip=${KVSKIT_BENCH_CLIP:-}
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
CGO_ENABLED=0 go build -o "$work/kvs" ./cmd/kvs
source=test://
shown=test://
label="640x360 H.264 + AAC test pattern"
if [ -n "$clip" ]; then
	cp "$clip" "$work/clip.mkv"
	source="test://$work/clip.mkv"
	shown="test:///.../clip.mkv"
	label="$(basename "$clip") looped"
else
	cp samples/clip/testsrc-640x360.mkv "$work/clip.mkv"
fi

load0=$(cut -d' ' -f1-3 /proc/loadavg)
"$work/kvs" serve --listen 127.0.0.1:0 --data-dir "$work/data" --log-level warn >"$work/serve.out" 2>&1 &
for _ in $(seq 100); do grep -q "ready at" "$work/serve.out" && break; sleep 0.1; done
url=$(sed -n 's/.*ready at \(http:[^ ]*\).*/\1/p' "$work/serve.out")
export AWS_SHARED_CREDENTIALS_FILE="$work/data/credentials" AWS_CONFIG_FILE=/dev/null AWS_REGION=us-east-1
export AWS_ENDPOINT_URL_KINESIS_VIDEO="$url"

# measure PID: samples VmRSS every 5 s for secs, then prints "samples peak cpu%"
measure() {
  local pid=$1 samples="" t0 c0 c1 tick
  tick=$(getconf CLK_TCK)
  t0=$(date +%s.%N)
  c0=$(awk '{print $14+$15}' /proc/"$pid"/stat)
  for _ in $(seq $((secs / 5))); do
    sleep 5
    samples="$samples $(awk '/VmRSS/{print $2}' /proc/"$pid"/status)"
  done
  c1=$(awk '{print $14+$15}' /proc/"$pid"/stat)
  local peak wall
  peak=$(awk '/VmHWM/{print $2}' /proc/"$pid"/status)
  wall=$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN{print a-b}')
  echo "$samples|$peak|$(awk -v c0="$c0" -v c1="$c1" -v t="$tick" -v w="$wall" 'BEGIN{print 100*(c1-c0)/t/w}')"
}

"$work/kvs" capture --source "$source" --stream bench --create-stream --log-level warn 2>"$work/capture.log" &
kvs_pid=$!
sleep 1
kvs=$(measure $kvs_pid)
kill -TERM $kvs_pid; wait $kvs_pid || true

ffmpeg -v error -re -stream_loop -1 -i "$work/clip.mkv" -c copy -f matroska -y /dev/null &
ff_pid=$!
sleep 1
ff=$(measure $ff_pid)
kill $ff_pid; wait $ff_pid 2>/dev/null || true

row() { # name result
  IFS='|' read -r samples peak cpu <<<"$2"
  printf '| %s | %s | %d | %.2f%% |\n' "$1" "$(echo $samples | tr ' ' ',')" "$((peak / 1024))" "$cpu"
}
echo "| process ($secs s, $label, real time) | RSS every 5 s (kB) | peak RSS (MB) | CPU (one core) |"
echo "| --- | --- | --- | --- |"
row "kvs capture --source $shown into kvs serve" "$kvs"
row "ffmpeg -re -c copy -f matroska /dev/null (peer)" "$ff"
echo
echo "load average (1, 5, 15 min): $load0 before, $(cut -d' ' -f1-3 /proc/loadavg) after"
