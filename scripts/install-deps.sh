#!/usr/bin/env bash
# Installs the Debian packages long1k needs to build and test. Idempotent: it only calls
# apt-get when something is missing. Run as root (or with sudo available).
set -euo pipefail
PKGS=(build-essential cmake pkg-config clang libclang-rt-14-dev
      libcjson-dev libutf8proc-dev libopenblas-dev libyaml-dev libcurl4-openssl-dev
      zlib1g-dev libopenmpi-dev openmpi-bin python3 chromium)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "install-deps: all packages present"
fi
