#!/usr/bin/env bash
# Measures what the disk spool costs a 1080p 8 Mbit/s capture and how fast a
# capture catches up after an outage, each against the same capture without
# a spool, in the same run:
#   1. `kvs capture --source test:///clip.mkv` into `kvs serve` for SECS
#      (default 60) without, then with --spool: CPU share of one core, peak
#      RSS, bytes written to storage a second (/proc/PID/io write_bytes) and
#      write calls a second (syscw).
#   2. the same captures with kvs serve killed for OUTAGE seconds (default
#      60) and restarted on the same port: the time from the restart until
#      every fragment closed is persisted (it includes the reconnect
#      backoff, up to 16 s), the fragments a second, and the peak RSS.
# KVSKIT_BENCH_CLIP=FILE plays FILE instead of a generated 10 s 1080p30 CBR
# 8 Mbit/s H.264 clip. Run it under `flock /tmp/bench.lock` on a shared machine.
set -euo pipefail
secs=${1:-60}
outage=${2:-60}
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
CGO_ENABLED=0 go build -o "$work/kvs" ./cmd/kvs
if [ -n "${KVSKIT_BENCH_CLIP:-}" ]; then
	cp "$KVSKIT_BENCH_CLIP" "$work/clip.mkv"
else
	ffmpeg -v error -f lavfi -i testsrc2=size=1920x1080:rate=30 -t 10 -c:v libx264 -preset ultrafast -bf 0 -g 60 \
		-pix_fmt yuv420p -b:v 8M -minrate 8M -maxrate 8M -bufsize 8M -x264-params nal-hrd=cbr -y "$work/clip.mkv"
fi
clipinfo="$(ffprobe -v error -select_streams v:0 -show_entries stream=width,height:format=bit_rate -of csv=p=0 "$work/clip.mkv" | tr '\n' ' ')"

load0=$(cut -d' ' -f1-3 /proc/loadavg)
port=""
serve() {
	local listen=${port:-0}
	"$work/kvs" serve --listen "127.0.0.1:$listen" --data-dir "$work/data" --log-level warn >"$work/serve.out" 2>&1 &
	serve_pid=$!
	for _ in $(seq 100); do grep -q "ready at" "$work/serve.out" && break; sleep 0.1; done
	url=$(sed -n 's/.*ready at \(http:[^ ]*\).*/\1/p' "$work/serve.out")
	port=${url##*:}
}
serve
export AWS_SHARED_CREDENTIALS_FILE="$work/data/credentials" AWS_CONFIG_FILE=/dev/null AWS_REGION=us-east-1
export AWS_ENDPOINT_URL_KINESIS_VIDEO="$url"

# measure PID: for secs, prints "cpu%|peakMB|write kB/s|write calls/s"
measure() {
	local pid=$1 tick t0 c0 w0 s0
	tick=$(getconf CLK_TCK)
	t0=$(date +%s.%N)
	c0=$(awk '{print $14+$15}' /proc/"$pid"/stat)
	w0=$(awk '/^write_bytes/{print $2}' /proc/"$pid"/io)
	s0=$(awk '/^syscw/{print $2}' /proc/"$pid"/io)
	sleep "$secs"
	awk -v c0="$c0" -v c1="$(awk '{print $14+$15}' /proc/"$pid"/stat)" -v t="$tick" \
		-v w0="$w0" -v w1="$(awk '/^write_bytes/{print $2}' /proc/"$pid"/io)" \
		-v s0="$s0" -v s1="$(awk '/^syscw/{print $2}' /proc/"$pid"/io)" \
		-v peak="$(awk '/VmHWM/{print $2}' /proc/"$pid"/status)" \
		-v w="$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN{print a-b}')" \
		'BEGIN{printf "%.2f%%|%d|%.0f|%.1f", 100*(c1-c0)/t/w, peak/1024, (w1-w0)/1024/w, (s1-s0)/w}'
}

metric() { # name: the value on /metrics
	curl -s "http://127.0.0.1:$mport/metrics" | awk -v n="$1" '$1 ~ "^"n"{" {print $2}'
}

capture() { # stream extra-args...
	local stream=$1
	shift
	mport=$((port + 1000 + RANDOM % 1000))
	"$work/kvs" capture --source "test://$work/clip.mkv" --stream "$stream" --create-stream --log-level warn \
		--metrics-listen "127.0.0.1:$mport" "$@" 2>>"$work/capture.log" &
	cap_pid=$!
	sleep 2
}

declare -A steady catchup
for mode in none spool; do
	args=()
	[ "$mode" = spool ] && args=(--spool "$work/spool")
	capture "steady-$mode" "${args[@]}"
	steady[$mode]=$(measure $cap_pid)
	kill -TERM $cap_pid; wait $cap_pid || true
done
for mode in none spool; do
	args=()
	[ "$mode" = spool ] && args=(--spool "$work/spool")
	capture "outage-$mode" "${args[@]}"
	sleep 8
	kill -KILL $serve_pid; wait $serve_pid 2>/dev/null || true
	sleep "$outage"
	pending=$(( $(metric kvs_fragments_total) - $(metric kvs_fragments_persisted_total) ))
	serve
	t0=$(date +%s.%N)
	while true; do
		total=$(metric kvs_fragments_total); done_=$(metric kvs_fragments_persisted_total)
		[ -n "$total" ] && [ -n "$done_" ] && [ $((total - done_)) -le 1 ] && break
		sleep 0.2
	done
	took=$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN{print a-b}')
	dropped=$(metric kvs_fragments_dropped_total)
	peak=$(awk '/VmHWM/{print int($2/1024)}' /proc/$cap_pid/status)
	catchup[$mode]="$pending|$took|$dropped|$peak"
	kill -TERM $cap_pid; wait $cap_pid || true
done

echo "clip: $clipinfo(width,height,bit rate), looped in real time; $secs s a capture; outage $outage s"
echo
echo "| kvs capture | CPU (one core) | peak RSS (MB) | storage writes (kB/s) | write calls/s |"
echo "| --- | --- | --- | --- | --- |"
for mode in none spool; do
	IFS='|' read -r cpu peak wk wc <<<"${steady[$mode]}"
	name="without a spool"; [ "$mode" = spool ] && name="--spool DIR (fsync per fragment)"
	printf '| %s | %s | %s | %s | %s |\n' "$name" "$cpu" "$peak" "$wk" "$wc"
done
echo
echo "| after a $outage s outage | fragments waiting | catch-up (s) | fragments/s | dropped | peak RSS (MB) |"
echo "| --- | --- | --- | --- | --- | --- |"
for mode in none spool; do
	IFS='|' read -r pending took dropped peak <<<"${catchup[$mode]}"
	name="without a spool (memory)"; [ "$mode" = spool ] && name="--spool DIR"
	printf '| %s | %s | %.1f | %.2f | %s | %s |\n' "$name" "$pending" "$took" "$(awk -v p="$pending" -v t="$took" 'BEGIN{print p/t}')" "$dropped" "$peak"
done
echo
echo "load average (1, 5, 15 min): $load0 before, $(cut -d' ' -f1-3 /proc/loadavg) after"
