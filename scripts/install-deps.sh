#!/usr/bin/env bash
# Installs every Debian package that building, testing and benchmarking sluice needs.
# Idempotent: packages already present are skipped; apt-get runs only when something
# is missing. Must run as root (or with sudo available).
set -euo pipefail

packages=(
  # build
  make meson ninja-build pkg-config gcc g++ clang libclang-rt-14-dev clang-format
  # product dependencies
  liburing-dev libisal-dev libraft-dev libuv1-dev libhugetlbfs-bin
  # tests
  googletest libgtest-dev librdkafka-dev kcat python3 python3-kafka python3-confluent-kafka
  libsnappy-dev liblz4-dev libzstd-dev zlib1g-dev
  # limits, inspection
  fio iperf3 valgrind tshark
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

# The machine image may ship Node.js and npm outside Debian's packages; only install
# Debian's when the commands are absent.
command -v npm >/dev/null || missing+=(nodejs npm)

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer no without a prompt.
echo "wireshark-common wireshark-common/install-setuid boolean false" | $sudo debconf-set-selections
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
