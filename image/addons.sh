#!/usr/bin/env bash
# Builds Tandem's native addons for the appliance's Node 18 (Debian bookworm's 18.20.4, module
# version 108) for one target arch, into OUT in the rootfs layout of issue 15's contract 8:
#   OUT/build/Release/tandem_raw.node        N-API (ABI-stable), from binding.gyp
#   OUT/node_modules/<pkg>/...               onoff and its runtime deps, epoll rebuilt (nan: tied to 108)
# Compiled by node-gyp against Debian's libnode-dev headers (not the host Node 20's, whose
# module version is 115), with Debian's aarch64-linux-gnu cross compiler for arm64.
# usage: image/addons.sh x86_64|arm64 OUT
#   ADDONS_NODE_MODULES=DIR takes onoff & co from DIR instead of the project's node_modules.
set -euo pipefail
arch="$1"; out="$2"
repo="$(cd "$(dirname "$0")/.." && pwd)"
modules="${ADDONS_NODE_MODULES:-$repo/node_modules}"
cache="$repo/.cache/addons"
node_deb_version="18.20.4+dfsg-1~deb12u3"   # the same as scripts/node18 and the rootfs' nodejs
case "$arch" in
  x86_64) gyp_arch=x64; cross="" ;;
  arm64) gyp_arch=arm64; cross="aarch64-linux-gnu-" ;;
  *) echo "addons: unknown arch '$arch' (x86_64|arm64)" >&2; exit 2 ;;
esac
if [ -n "$cross" ] && ! command -v "${cross}g++" >/dev/null; then
  echo "addons: ${cross}g++ missing (Debian package g++-aarch64-linux-gnu)" >&2; exit 1
fi
gyp="$(dirname "$(dirname "$(command -v npm)")")/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js"
[ -f "$gyp" ] || gyp="$(npm root -g)/npm/node_modules/node-gyp/bin/node-gyp.js"

# Node 18's headers, once: libnode-dev (include/node: node_api.h, v8.h, common.gypi, config.gypi)
# and libuv1-dev (node.h includes uv.h, which node-gyp looks for under deps/uv/include). The
# headers are arch-independent apart from config.gypi's host/target arch, which --arch overrides.
headers="$cache/node18-headers/usr"
# Two image builds at once (scripts/test builds arm64 beside x86-64) share the headers: one at a time.
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
if [ ! -f "$headers/deps/uv/include/uv.h" ]; then
  mkdir -p "$cache/debs"
  fetch() { (cd "$cache/debs" && apt-get -o APT::Sandbox::User=root download -qq \
     "libnode-dev=$node_deb_version" libuv1-dev >/dev/null); }
  fetch || { apt-get -o DPkg::Lock::Timeout=600 update -qq && fetch; }
  rm -rf "$cache/node18-headers"
  for deb in "$cache"/debs/libnode-dev_*.deb "$cache"/debs/libuv1-dev_*.deb; do dpkg-deb -x "$deb" "$cache/node18-headers"; done
  mkdir -p "$headers/deps/uv/include"
  cp -r "$headers/include/uv.h" "$headers/include/uv" "$headers/deps/uv/include/"
fi

# node-gyp in a scratch copy, so the developer's build/ (the host Node 20 addon the netns tier
# loads) is never touched.
gyp_build() { # DIR: runs node-gyp rebuild in DIR for the target
  (cd "$1" && env CC="${cross}gcc" CXX="${cross}g++" LINK="${cross}g++" AR="${cross}ar" \
     node "$gyp" rebuild --arch="$gyp_arch" --nodedir="$headers" --release --loglevel=warn) \
    >"$1.log" 2>&1 || { tail -30 "$1.log" >&2; return 1; }
}

work="$cache/work-$arch"
rm -rf "$work"; mkdir -p "$work/raw/firmware/net"
cp "$repo/binding.gyp" "$work/raw/"
cp -r "$repo/firmware/net/raw" "$work/raw/firmware/net/"
ln -s "$repo/node_modules" "$work/raw/node_modules"
gyp_build "$work/raw"
rm -rf "$out"; mkdir -p "$out/build/Release"
cp "$work/raw/build/Release/tandem_raw.node" "$out/build/Release/"
"${cross}strip" --strip-unneeded "$out/build/Release/tandem_raw.node"

# onoff (GPIO, named by the user) and what it needs at run time: its epoll dependency is a nan
# addon, so it is rebuilt here for Node 18; the rest is plain JavaScript, copied.
copy_package() { # NAME: copies NAME's runtime files (package.json, *.js, LICENSE), not docs, tests, sources
  local src="$modules/$1" dst="$out/node_modules/$1"
  mkdir -p "$dst"
  (cd "$src" && find . -mindepth 1 \( -name node_modules -o -name build -o -name src -o -name 'test*' \
      -o -name 'example*' -o -name 'integration-test' -o -name '.*' -o -name '*.md' -o -name '*.ts' \
      -o -name '*.cc' -o -name '*.h' -o -name '*.gyp' -o -name '*.png' \) -prune -o -type f -print) |
    while read -r f; do mkdir -p "$dst/$(dirname "$f")"; cp "$src/$f" "$dst/$f"; done
}
if [ -d "$modules/onoff" ]; then
  for pkg in onoff lodash.debounce bindings file-uri-to-path; do
    if [ -d "$modules/$pkg" ]; then copy_package "$pkg"; fi
  done
  cp -r "$modules/epoll" "$work/epoll"
  rm -rf "$work/epoll/build" "$work/epoll/node_modules"
  ln -s "$modules" "$work/epoll/node_modules"   # nan, found by its include_dirs
  gyp_build "$work/epoll"
  copy_package epoll
  mkdir -p "$out/node_modules/epoll/build/Release"
  cp "$work/epoll/build/Release/epoll.node" "$out/node_modules/epoll/build/Release/"
  "${cross}strip" --strip-unneeded "$out/node_modules/epoll/build/Release/epoll.node"
else
  echo "addons: $modules/onoff not installed: GPIO addon skipped" >&2
fi
rm -rf "$work"
find "$out" -name '*.node' -printf 'addons: %P %s bytes\n'
