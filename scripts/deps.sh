#!/usr/bin/env bash
# Installs what the test suite exercises: ffmpeg/ffprobe, mkvtoolnix and GStreamer
# from Debian's packages, and checks the AWS CLI and boto3 that the machine ships.
set -euo pipefail

apt_pkgs=(ffmpeg mkvtoolnix gstreamer1.0-tools gstreamer1.0-plugins-base
  gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-libav
  gstreamer1.0-plugins-ugly gstreamer1.0-rtsp python3-gi gir1.2-gst-rtsp-server-1.0
  qemu-system-x86 busybox-static kmod cpio xz-utils linux-image-amd64 linux-headers-amd64
  linux-source-6.1 v4l2loopback-dkms)

missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! python3 -c 'import boto3, botocore' 2>/dev/null; then
  echo "deps: installing boto3"
  python3 -m pip install -q boto3 awscli
fi
command -v aws >/dev/null || python3 -m pip install -q awscli
echo "deps: ok ($(ffmpeg -version | head -1 | cut -d' ' -f1-3); $(mkvmerge --version | head -1); $(aws --version 2>&1 | cut -d' ' -f1))"
