#!/usr/bin/env bash
# What `make image-test` needs on a Debian machine without Docker or a reachable registry, made
# once and kept: podman (with runc), and a base image of Python 3.11 built from Debian's own
# packages, imported as localhost/debian-python:bookworm (its tar kept in IMAGE_CACHE, so a
# machine that lost its images imports it again in seconds instead of building it).
set -euo pipefail
BASE_IMAGE=localhost/debian-python:bookworm
CACHE=${IMAGE_CACHE:-/var/cache/llm-gateway-image}

if ! command -v podman >/dev/null || ! command -v mmdebstrap >/dev/null || ! command -v runc >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman mmdebstrap runc >/dev/null
fi

# Without this every container fails: setrlimit RLIMIT_NOFILE/RLIMIT_NPROC: Operation not permitted.
conf=/etc/containers/containers.conf
mkdir -p /etc/containers
if [ ! -f "$conf" ]; then
  printf '[containers]\ndefault_ulimits = []\n' > "$conf"
elif ! grep -q '^ *default_ulimits' "$conf"; then
  if grep -q '^\[containers\]' "$conf"; then
    sed -i 's/^\[containers\]/[containers]\ndefault_ulimits = []/' "$conf"
  else
    printf '\n[containers]\ndefault_ulimits = []\n' >> "$conf"
  fi
fi

if ! podman image exists "$BASE_IMAGE"; then
  mkdir -p "$CACHE"
  if [ ! -s "$CACHE/debian-python-bookworm.tar" ]; then
    mmdebstrap --quiet --variant=minbase --include=python3,python3-venv,ca-certificates bookworm \
      "$CACHE/debian-python-bookworm.tar.part"
    mv "$CACHE/debian-python-bookworm.tar.part" "$CACHE/debian-python-bookworm.tar"
  fi
  podman import --quiet "$CACHE/debian-python-bookworm.tar" "$BASE_IMAGE" >/dev/null
fi
echo "base image: $BASE_IMAGE"
