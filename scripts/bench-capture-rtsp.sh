#!/usr/bin/env bash
# Measures `kvs capture` of a 1080p30 H.264 8 Mbit/s RTSP camera (GStreamer's
# RTSP server playing a file at its real rate) into `kvs serve`: peak
# resident memory (VmHWM), the largest anonymous and file-backed parts, and
# the CPU share of one core and the context switches a second of all its
# threads over SECONDS (default 30). In the same run, the
# peer: ffmpeg as the RTSP client passing the stream through to Matroska
# (-c copy -f matroska /dev/null). Prints a markdown table, one row per
# process and run, with the load average at the start of each.
# Needs go, ffmpeg (libx264) and python3 with GStreamer's gi bindings
# (gir1.2-gst-rtsp-server-1.0, gstreamer1.0-plugins-good/bad).
#
# Environment:
#   KVSKIT_BENCH_BEFORE=REV      also measure `kvs` built from git revision REV
#   KVSKIT_BENCH_RUNS=N          N rounds (default 1); each measures kvs, then
#                                the REV build, then the peer, so that the
#                                builds alternate
#   KVSKIT_BENCH_TRANSPORT=T     udp (default) or tcp: the server offers only
#                                that lower transport (kvs asks for UDP first
#                                and takes TCP when refused; the peer is told)
#   KVSKIT_BENCH_PEER=0          leave the ffmpeg peer out
#   KVSKIT_BENCH_PIN=CPU         also measure kvs (and the REV build) and the
#                                peer pinned to that CPU (taskset -c CPU), as
#                                a systemd unit with CPUAffinity= runs them
set -euo pipefail
secs=${1:-30}
runs=${KVSKIT_BENCH_RUNS:-1}
transport=${KVSKIT_BENCH_TRANSPORT:-udp}
before=${KVSKIT_BENCH_BEFORE:-}
peer=${KVSKIT_BENCH_PEER:-1}
pin=${KVSKIT_BENCH_PIN:-}
case $transport in udp | tcp) ;; *) echo "KVSKIT_BENCH_TRANSPORT: want udp or tcp" >&2; exit 2 ;; esac
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
CGO_ENABLED=0 go build -o "$work/kvs" ./cmd/kvs
if [ -n "$before" ]; then
	before=$(scripts/build-kvs-at.sh "$before" "$work/kvs-before")
fi
ffmpeg -v error -f lavfi -i "testsrc2=size=1920x1080:rate=30" -t $((secs + 15)) -c:v libx264 -preset ultrafast \
	-b:v 8M -maxrate 8M -bufsize 8M -g 60 -bf 0 "$work/cam.mkv"
port=$((20000 + RANDOM % 20000))
/usr/bin/python3 scripts/rtsp_file_server.py "$work/cam.mkv" "$port" "$transport" >"$work/rtsp.out" 2>&1 &
for _ in $(seq 100); do grep -q READY "$work/rtsp.out" && break; sleep 0.1; done
grep -q READY "$work/rtsp.out" || { cat "$work/rtsp.out" >&2; exit 1; }
url="rtsp://127.0.0.1:$port/cam"

"$work/kvs" serve --listen 127.0.0.1:0 --data-dir "$work/data" --log-level warn >"$work/serve.out" 2>&1 &
for _ in $(seq 100); do grep -q "ready at" "$work/serve.out" && break; sleep 0.1; done
endpoint=$(sed -n 's/.*ready at \(http:[^ ]*\).*/\1/p' "$work/serve.out")
export AWS_SHARED_CREDENTIALS_FILE="$work/data/credentials" AWS_CONFIG_FILE=/dev/null AWS_REGION=us-east-1
unset AWS_CA_BUNDLE

# switches PID: the context switches of all the threads of PID so far
# (voluntary and not; threads that ended are not counted).
switches() {
	cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/{n+=$2} END{print n+0}'
}

# measure PID: samples /proc every 0.5 s for secs after a 3 s warm-up; prints
# "peak_kB anon_kB file_kB cpu% switches_per_s".
measure() {
	local pid=$1 hw=0 a=0 f=0 h an fi c0 c1 s0 s1 t0 tick
	tick=$(getconf CLK_TCK)
	sleep 3
	c0=$(awk '{print $14+$15}' /proc/"$pid"/stat)
	s0=$(switches "$pid")
	t0=$(date +%s.%N)
	while awk -v t0="$t0" -v s="$secs" -v now="$(date +%s.%N)" 'BEGIN{exit !(now - t0 < s)}'; do
		read -r h an fi < <(awk '/^VmHWM/{h=$2} /^RssAnon/{a=$2} /^RssFile/{f=$2} END{print h+0, a+0, f+0}' /proc/"$pid"/status)
		hw=$h; a=$((an > a ? an : a)); f=$((fi > f ? fi : f))
		sleep 0.5
	done
	c1=$(awk '{print $14+$15}' /proc/"$pid"/stat)
	s1=$(switches "$pid")
	awk -v c0="$c0" -v c1="$c1" -v tk="$tick" -v s="$secs" -v h="$hw" -v a="$a" -v f="$f" -v s0="$s0" -v s1="$s1" \
		'BEGIN{printf "%d %d %d %.2f %.0f\n", h, a, f, 100*(c1-c0)/tk/s, (s1-s0)/s}'
}
mb() { awk -v k="$1" 'BEGIN{printf "%.1f", k/1024}'; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

# pinned CPU CMD...: CMD, pinned to CPU when it is not empty
pinned() {
	local cpu=$1
	shift
	if [ -n "$cpu" ]; then
		exec taskset -c "$cpu" "$@"
	fi
	exec "$@"
}

# capture BINARY LABEL [CPU]: one measured run of kvs capture (pinned to CPU
# if given); prints a table row.
capture() {
	local bin=$1 label=$2 cpu=${3:-} ld cap kh ka kf kc persisted tr
	# A copy of the binary, not in the page cache, as an installed one would be.
	cp "$bin" "$work/kvs-capture"
	dd if="$work/kvs-capture" iflag=nocache count=0 status=none
	ld=$(load)
	(pinned "$cpu" "$work/kvs-capture" capture --source "$url" --stream cam --create-stream --endpoint-url "$endpoint") >"$work/capture.log" 2>&1 &
	cap=$!
	read -r kh ka kf kc ks < <(measure "$cap")
	kill -TERM "$cap"; wait "$cap" || true
	persisted=$(grep -c "fragment persisted" "$work/capture.log" || true)
	echo "| $label ($persisted fragments persisted) | $(mb "$kh") | $(mb "$ka") | $(mb "$kf") | $kc % | $ks | $ld |"
}

echo "| process ($secs s, 1080p30 H.264 8 Mbit/s over RTSP/${transport^^}, real time) | peak RSS (MB) | anon (MB) | file-backed (MB) | CPU (one core) | context switches/s | load average |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
# peer LABEL [CPU]: one measured run of the ffmpeg peer; prints a table row.
peer() {
	local label=$1 cpu=${2:-} ld ff fh fa ff_ fc
	ld=$(load)
	(pinned "$cpu" ffmpeg -v error -rtsp_transport "$transport" -i "$url" -map 0 -c copy -f matroska -y /dev/null) >"$work/ff.log" 2>&1 &
	ff=$!
	read -r fh fa ff_ fc fs < <(measure "$ff")
	kill -INT "$ff"; wait "$ff" || true
	echo "| $label | $(mb "$fh") | $(mb "$fa") | $(mb "$ff_") | $fc % | $fs | $ld |"
}

for run in $(seq "$runs"); do
	capture "$work/kvs" "kvs capture --source rtsp://... into kvs serve, run $run"
	if [ -n "$pin" ]; then
		capture "$work/kvs" "kvs capture pinned to CPU $pin (taskset -c $pin), run $run" "$pin"
	fi
	if [ -n "$before" ]; then
		capture "$work/kvs-before" "kvs capture built from $before, run $run"
		if [ -n "$pin" ]; then
			capture "$work/kvs-before" "kvs capture built from $before, pinned to CPU $pin, run $run" "$pin"
		fi
	fi
	if [ "$peer" != 0 ]; then
		peer "ffmpeg -rtsp_transport $transport -i rtsp://... -c copy -f matroska /dev/null (peer), run $run"
		if [ -n "$pin" ]; then
			peer "ffmpeg peer pinned to CPU $pin, run $run" "$pin"
		fi
	fi
done
