#!/usr/bin/env bash
# Builds lsk's Conan package and its test_package, offline: Conan itself comes
# from PyPI into a private virtual environment, eigen and range-v3 are Debian's
# (profile conan/profiles/debian12, [platform_requires]), and Conan keeps its
# cache in a private CONAN_HOME, so the user's own Conan setup is untouched.
#   tools/conan-check.sh            exits non-zero when `conan create` fails
# Environment: LSK_CONAN_VENV (default .venv-conan), LSK_CONAN_WORK (default
# build-conan: CONAN_HOME and the test_package build), LSK_CONAN_VERSION
# (default 2.34.0).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
venv=${LSK_CONAN_VENV:-$root/.venv-conan}
conan_version=${LSK_CONAN_VERSION:-2.34.0}
work=${LSK_CONAN_WORK:-$root/build-conan}
export CONAN_HOME=$work/home

"$root/tools/install-deps.sh"   # compiler, CMake, Ninja, Eigen, range-v3

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
  echo "lsk: installing python3-venv"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends python3-venv
fi
if ! "$venv/bin/conan" --version 2>/dev/null | grep -q "$conan_version"; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "conan==$conan_version"
fi
conan=("$venv/bin/conan")
"${conan[@]}" --version

mkdir -p "$CONAN_HOME"
[ -f "$CONAN_HOME/profiles/default" ] || "${conan[@]}" profile detect >/dev/null
# No remote is needed or wanted: everything else is a platform requirement.
"${conan[@]}" remote disable "*" >/dev/null

profiles=(--profile:all default --profile:all conan/profiles/debian12)
start=$(date +%s)
"${conan[@]}" create conan/ "${profiles[@]}" --build=missing \
  -c tools.cmake.cmake_layout:test_folder="$work/test_package" -c tools.cmake.cmaketoolchain:user_presets=""
echo "lsk: conan create passed ($(($(date +%s) - start)) s)"

# The recipe's validate() must refuse what it cannot serve.
refused() {  # refused WHAT ARGS...: `conan install` of the package must fail as invalid
  local what=$1 log
  shift
  if log=$("${conan[@]}" install --requires="lsk/$version" "${profiles[@]}" "$@" 2>&1); then
    echo "lsk: conan accepted $what; it must be refused"
    exit 1
  fi
  grep -q "Invalid" <<<"$log" || { echo "$log"; echo "lsk: $what failed for another reason"; exit 1; }
  echo "lsk: conan refuses $what, as it should"
}
version=$("${conan[@]}" inspect conan/ --format=json | python3 -c 'import json, sys; print(json.load(sys.stdin)["version"])')
refused "C++17" -s:a compiler.cppstd=17
refused "the cuda option (not packaged yet)" -o "lsk/*:cuda=True"
