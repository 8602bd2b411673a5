#!/usr/bin/env bash
# Installs what e2hil needs to build, test and run its demo; safe to run again
# (it only installs what is missing). Called by `make deps`.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cache="${E2HIL_CACHE:-$root/.cache}"
ort_version=1.30.0

# Debian packages: OpenBLAS for Gorgonia, OpenCV for gocv, ffmpeg for videos,
# protoc for `go generate`, python3-onnx for the ONNX checker test.
pkgs=(libopenblas-dev libopencv-dev ffmpeg protobuf-compiler python3-onnx pkg-config)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "deps: installing Debian packages: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# onnxruntime shared library, taken from the npm package onnxruntime-node
# (--ignore-scripts: its install script reaches a host that is not reachable).
ort_dir="$cache/onnxruntime"
if [ ! -s "$ort_dir/libonnxruntime.so.1" ]; then
  echo "deps: fetching onnxruntime $ort_version shared library from npm (onnxruntime-node)"
  mkdir -p "$ort_dir"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent --ignore-scripts "onnxruntime-node@$ort_version" >/dev/null)
  tar -xzf "$tmp/onnxruntime-node-$ort_version.tgz" -C "$tmp" package/bin/napi-v6/linux/x64/libonnxruntime.so.1
  mv "$tmp/package/bin/napi-v6/linux/x64/libonnxruntime.so.1" "$ort_dir/libonnxruntime.so.1.tmp"
  mv "$ort_dir/libonnxruntime.so.1.tmp" "$ort_dir/libonnxruntime.so.1"
fi

# An independent Parquet reader (hyparquet, pure JavaScript) for the tests that
# check our datasets open outside Go.
node_dir="$cache/node"
if [ ! -d "$node_dir/node_modules/hyparquet" ]; then
  echo "deps: installing hyparquet (independent Parquet reader for tests)"
  mkdir -p "$node_dir"
  npm install --silent --ignore-scripts --no-audit --no-fund --prefix "$node_dir" hyparquet@1 >/dev/null
fi

# A second independent Parquet reader, DuckDB (C++, prebuilt binary from npm, no
# install script), for the test that compares column types with LeRobot's files.
duckdb_version=1.5.6-r.1
if [ ! -f "$node_dir/node_modules/@duckdb/node-api/package.json" ]; then
  echo "deps: installing @duckdb/node-api $duckdb_version (independent Parquet reader for tests)"
  mkdir -p "$node_dir"
  npm install --silent --ignore-scripts --no-audit --no-fund --prefix "$node_dir" "@duckdb/node-api@$duckdb_version" >/dev/null
fi

(cd "$root" && go mod download)
echo "deps: ok (onnxruntime: $ort_dir/libonnxruntime.so.1)"
