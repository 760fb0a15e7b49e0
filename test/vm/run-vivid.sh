#!/usr/bin/env bash
# Runs the in-VM tests of kvskit/device/v4l2 against real kernel V4L2 drivers:
# vivid (a capture device), vicodec (a stateful memory-to-memory codec) and
# v4l2loopback (two devices fed by the tests: H.264 for the pass-through,
# MJPEG for the decoding capture path) in a throw-away
# qemu VM with no network, booted from Debian's kernel and an initramfs made
# of busybox, the modules and the static test binary.
#
#   test/vm/run-vivid.sh OUTDIR
#
# OUTDIR receives console.log (the serial console: the go test -v output)
# and files/ (what the tests wrote to the VM's /dev/vda as a tar: MKV files).
# Exit status: 0 the tests passed, 1 they failed, 77 a prerequisite is
# missing (install it with `make deps`), 2 anything else went wrong.
#
# Environment: KVSKIT_VM_CACHE (default $TMPDIR/kvskit-vm-<kernel>) keeps the
# modules built from Debian's linux-source (vicodec and v4l2-mem2mem, which
# Debian's kernel does not ship) between runs; KVSKIT_VM_KVM=0 disables KVM;
# KVSKIT_VM_RUN selects the in-VM tests (a go test -run pattern).
set -euo pipefail

out=${1:?usage: run-vivid.sh OUTDIR}
root=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)

missing() { echo "run-vivid: missing $*; install it with 'make deps'" >&2; exit 77; }
fail() { echo "run-vivid: $*" >&2; exit 2; }

for tool in qemu-system-x86_64 modinfo cpio gzip xz go tar; do
  command -v "$tool" >/dev/null || missing "$tool"
done
busybox=/bin/busybox
[ -x "$busybox" ] || missing "busybox-static"
if command -v file >/dev/null && ! file -L "$busybox" | grep -q 'statically linked'; then
  missing "busybox-static (the installed busybox is dynamically linked)"
fi

# The newest Debian kernel that has both an image and vivid.
kver=""
for d in $(ls -1 /lib/modules 2>/dev/null | sort -V); do
  [ -r "/boot/vmlinuz-$d" ] && modinfo -k "$d" -F filename vivid >/dev/null 2>&1 && kver=$d
done
[ -n "$kver" ] || missing "a Debian kernel with vivid (linux-image-amd64)"

cache=${KVSKIT_VM_CACHE:-${TMPDIR:-/tmp}/kvskit-vm-$kver}
mkdir -p "$cache"
work=$(mktemp -d "${TMPDIR:-/tmp}/kvskit-vm-run.XXXXXX")
trap 'rm -rf "$work"' EXIT

# vicodec and v4l2-mem2mem: Debian builds neither, so build them out of tree
# from Debian's linux-source with its linux-headers (once; cached).
extra=$cache/extra
if [ ! -f "$extra/vicodec.ko" ] || [ ! -f "$extra/v4l2-mem2mem.ko" ]; then
  src=$(ls -1 /usr/src/linux-source-*.tar.xz 2>/dev/null | sort -V | tail -1 || true)
  hdr=/usr/src/linux-headers-$kver
  [ -n "$src" ] || missing "linux-source-* (for vicodec)"
  [ -d "$hdr" ] || missing "linux-headers-$kver (for vicodec)"
  echo "run-vivid: building vicodec and v4l2-mem2mem for $kver from $src" >&2
  rm -rf "$cache/src" "$extra" && mkdir -p "$cache/src" "$extra"
  top=$(tar -tJf "$src" 2>/dev/null | head -1 | cut -d/ -f1 || true)
  tar -xJf "$src" -C "$cache/src" "$top/drivers/media/test-drivers/vicodec" "$top/drivers/media/v4l2-core/v4l2-mem2mem.c"
  b=$cache/src/build && mkdir -p "$b"
  cp "$cache/src/$top"/drivers/media/test-drivers/vicodec/*.[ch] "$cache/src/$top/drivers/media/v4l2-core/v4l2-mem2mem.c" "$b/"
  printf 'obj-m += v4l2-mem2mem.o vicodec.o\nvicodec-objs := vicodec-core.o codec-fwht.o codec-v4l2-fwht.o\n' > "$b/Kbuild"
  make -s -C "$hdr" M="$b" modules -j2 >"$cache/build.log" 2>&1 || { cat "$cache/build.log" >&2; fail "building vicodec failed"; }
  cp "$b/vicodec.ko" "$b/v4l2-mem2mem.ko" "$extra/"
  rm -rf "$cache/src"
fi

# v4l2loopback: from v4l2loopback-dkms (dkms installs it for the headers'
# kernel), else built here from its source.
loop=$(modinfo -k "$kver" -F filename v4l2loopback 2>/dev/null || true)
if [ -z "$loop" ] || [ ! -f "$loop" ]; then
  if [ ! -f "$extra/v4l2loopback.ko" ]; then
    lsrc=$(ls -1d /usr/src/v4l2loopback-* 2>/dev/null | sort -V | tail -1 || true)
    [ -n "$lsrc" ] || missing "v4l2loopback-dkms"
    [ -d "/usr/src/linux-headers-$kver" ] || missing "linux-headers-$kver (for v4l2loopback)"
    rm -rf "$cache/loop" && cp -r "$lsrc" "$cache/loop"
    make -s -C "/usr/src/linux-headers-$kver" M="$cache/loop" modules >"$cache/loop.log" 2>&1 || { cat "$cache/loop.log" >&2; fail "building v4l2loopback failed"; }
    cp "$cache/loop/v4l2loopback.ko" "$extra/"
  fi
  loop=$extra/v4l2loopback.ko
fi

# Modules in load order, dependencies first.
declare -A seen=()
order=()
modfile() { # a module name -> its file
  local n=$1 f
  for f in "$extra/$n.ko" "$extra/${n//_/-}.ko" "$extra/${n//-/_}.ko"; do
    [ -f "$f" ] && { echo "$f"; return; }
  done
  modinfo -k "$kver" -F filename "$n" 2>/dev/null | head -1
}
add() { # a module file
  local f=$1 d
  [ -n "${seen[$f]:-}" ] && return
  seen[$f]=1
  for d in $(modinfo -F depends "$f" | tr ',' ' '); do
    local df
    df=$(modfile "$d")
    case "$df" in ""|"(builtin)") continue;; esac
    [ -f "$df" ] || fail "module $d not found"
    add "$df"
  done
  order+=("$f")
}
for m in vivid virtio_pci virtio_blk; do
  f=$(modfile "$m")
  case "$f" in "(builtin)") continue;; "") fail "module $m not found";; esac
  add "$f"
done
add "$extra/vicodec.ko"
add "$loop"

# The test binary: static, for the VM's x86-64.
(cd "$root" && CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go test -c -o "$work/v4l2.test" ./device/v4l2/) ||
  fail "building the test binary failed"

# The initramfs.
r=$work/root
mkdir -p "$r/bin" "$r/lib/modules" "$r/pkg" "$r/proc" "$r/sys" "$r/dev" "$r/tmp"
cp "$busybox" "$r/bin/busybox"
cp "$work/v4l2.test" "$r/v4l2.test"
cp -r "$root/device/v4l2/testdata" "$r/pkg/testdata"
: > "$r/modules.list"
for f in "${order[@]}"; do
  base=$(basename "$f")
  name=${base%%.ko*}
  case "$f" in
    *.ko.xz) xz -dc "$f" > "$r/lib/modules/$name.ko";;
    *.ko.zst) zstd -qdc "$f" > "$r/lib/modules/$name.ko";;
    *.ko.gz) gzip -dc "$f" > "$r/lib/modules/$name.ko";;
    *) cp "$f" "$r/lib/modules/$name.ko";;
  esac
  params=""
  case "$name" in
    vivid) params="n_devs=1 node_types=0x1 num_inputs=1 input_types=0x0";;
    vicodec) params="multiplanar=1";;
    v4l2loopback) params="devices=2 video_nr=20,21 max_buffers=8 exclusive_caps=0,0 card_label=kvskit-loopback,kvskit-mjpeg";;
  esac
  echo "$name.ko $params" >> "$r/modules.list"
done
cat > "$r/init" <<INIT
#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
/bin/busybox --install -s /bin
export PATH=/bin
while read -r mod params; do
  insmod "/lib/modules/\$mod" \$params || echo "KVSKIT-VM: insmod \$mod failed"
done < /modules.list
echo KVSKIT-VM-BEGIN
cd /pkg
KVSKIT_VM=1 KVSKIT_VM_DISK=/dev/vda /v4l2.test -test.v -test.count=1 -test.timeout 240s -test.run '${KVSKIT_VM_RUN:-^TestVM}'
echo "KVSKIT-VM-EXIT=\$?"
sync
poweroff -f
INIT
chmod +x "$r/init"
(cd "$r" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initrd.gz"

# The disk the tests write their results to, and the VM.
rm -rf "$out/files" && mkdir -p "$out/files"
truncate -s 0 "$out/disk.img" && truncate -s 256M "$out/disk.img"
accel=()
if [ "${KVSKIT_VM_KVM:-0}" = 1 ] && [ -w /dev/kvm ]; then
  accel=(-enable-kvm)
fi
echo "run-vivid: booting $kver with ${#order[@]} modules${accel:+ (kvm)}" >&2
start=$(date +%s)
set +e
timeout 360 qemu-system-x86_64 -m 512 -smp 2 -nographic -no-reboot "${accel[@]}" \
  -kernel "/boot/vmlinuz-$kver" -initrd "$work/initrd.gz" \
  -append "console=ttyS0 quiet loglevel=4 panic=-1" \
  -drive "file=$out/disk.img,format=raw,if=virtio" -nic none \
  </dev/null >"$out/console.log" 2>&1
qrc=$?
set -e
echo "run-vivid: VM ran $(( $(date +%s) - start )) s (qemu exit $qrc)" >&2
tr -d '\r' < "$out/console.log" > "$out/console.txt"
tar -xf "$out/disk.img" -C "$out/files" 2>/dev/null || true
rc=$(sed -n 's/^KVSKIT-VM-EXIT=\([0-9]*\).*/\1/p' "$out/console.txt" | tail -1)
[ -n "$rc" ] || { tail -40 "$out/console.txt" >&2; fail "the VM did not report a result"; }
[ "$rc" = 0 ] || { echo "run-vivid: in-VM tests failed (exit $rc); see $out/console.txt" >&2; exit 1; }
echo "run-vivid: in-VM tests passed" >&2
