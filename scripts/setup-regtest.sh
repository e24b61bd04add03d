#!/usr/bin/env bash
# Installs and caches the regtest toolchain used by every integration and e2e test:
#   - Bitcoin Knots 29.x from Debian sid, downloaded with a PRIVATE apt sources list (sid is never
#     added to the system), unpacked with dpkg -x and run through sid's own ld-linux loader;
#   - ElectrumX (PyPI package e-x) + plyvel in a Python venv;
#   - Debian's chromium (Playwright) and Electrum from bookworm-backports (interop peer).
#   - lnd (interop peer) built from source with Go through the Go module proxy (see its section).
#   - electrs (second Electrum server) built from crates.io with Debian's cargo (see its section).
#
# Idempotent. Warm runs touch no network. Cache: ${FULMEN_CACHE:-$HOME/.cache/fulmen}, keyed by
# version (knots-<debian version>/, electrumx-<version>/). Stable entry points in <cache>/bin:
# bitcoind, bitcoin-cli, electrumx_server. A summary is written to <cache>/regtest.env.
#
# Env: FULMEN_CACHE (cache root), FULMEN_REFRESH=1 (re-resolve Knots from sid even if cached),
#      ELECTRUMX_VERSION (default 1.20.0), FULMEN_SKIP_SYSTEM=1 (skip chromium/electrum apt installs).
#      LND_VERSION (default v0.19.3-beta), FULMEN_SKIP_LND=1 (skip building lnd).
#      ELECTRS_VERSION (default 0.10.10), FULMEN_SKIP_ELECTRS=1 (skip building electrs).
set -euo pipefail

CACHE="${FULMEN_CACHE:-$HOME/.cache/fulmen}"
KNOTS_MAJOR="29"
ELECTRUMX_VERSION="${ELECTRUMX_VERSION:-1.20.0}"
ELECTRUM_VERSION="4.5.8"
PYTHON="${FULMEN_PYTHON:-/usr/bin/python3}"
ARCH_TRIPLET="x86_64-linux-gnu"

# Runtime closure of bitcoind/bitcoin-cli, taken from sid (what `ld.so --list` needs; verified below).
KNOTS_PACKAGES=(
  bitcoin-knots libc6 libstdc++6 libgcc-s1 libsqlite3-0
  libevent-core-2.1-7t64 libevent-extra-2.1-7t64 libevent-pthreads-2.1-7t64
  libzmq5 libsodium26 libpgm-5.3-0t64 libnorm1t64 libbsd0 libmd0
  libgssapi-krb5-2 libkrb5-3 libk5crypto3 libcom-err2 libkrb5support0 libkeyutils1
)

log() { printf '[setup-regtest] %s\n' "$*" >&2; }
die() { printf '[setup-regtest] ERROR: %s\n' "$*" >&2; exit 1; }

SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
fi
export DEBIAN_FRONTEND=noninteractive
# apt-get that waits for the dpkg lock and retries once (another apt run may race on the archives).
apt_sys() {
  $SUDO apt-get -o DPkg::Lock::Timeout=600 "$@" || { sleep 5; $SUDO apt-get -o DPkg::Lock::Timeout=600 "$@"; }
}

[ "$(uname -m)" = x86_64 ] || die "only x86_64 is supported (got $(uname -m))"
mkdir -p "$CACHE/bin"

# ---------------------------------------------------------------------------------------------
# Bitcoin Knots from sid, private apt state under $CACHE/apt-sid
# ---------------------------------------------------------------------------------------------
knots_root_ok() { # $1 = knots dir; true when unpacked and runnable
  [ -f "$1/.complete" ] && "$1/bin/bitcoind" -version >/dev/null 2>&1
}

find_cached_knots() { # newest complete knots-29.* dir, or nothing
  local d best=""
  for d in "$CACHE"/knots-"$KNOTS_MAJOR".*; do
    [ -f "$d/.complete" ] && best="$d"
  done
  printf '%s' "$best"
}

install_knots() {
  local aptdir="$CACHE/apt-sid"
  mkdir -p "$aptdir/lists/partial" "$aptdir/debs/partial" "$aptdir/cache"
  cat > "$aptdir/sid.sources" <<'EOF'
Types: deb
URIs: http://deb.debian.org/debian
Suites: sid
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  local apt_opts=(
    -o "Dir::Etc::SourceList=$aptdir/sid.sources"
    -o "Dir::Etc::SourceParts=/dev/null"
    -o "Dir::State::Lists=$aptdir/lists"
    -o "Dir::State::status=/dev/null"
    -o "Dir::Cache=$aptdir/cache"
    -o "Dir::Cache::Archives=$aptdir/debs"
    -o "APT::Sandbox::User=$(id -un)"
    -o "Acquire::Languages=none"
    -o "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false"
    -o "Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false"
    -o "Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false"
    -o "Acquire::IndexTargets::deb::CNF::DefaultEnabled=false"
  )
  [ -f /usr/share/keyrings/debian-archive-keyring.gpg ] || die "missing debian-archive-keyring"
  log "resolving bitcoin-knots in Debian sid (private apt lists: $aptdir)"
  apt-get "${apt_opts[@]}" -q update >"$aptdir/update.log" 2>&1 \
    || { tail -20 "$aptdir/update.log" >&2; die "apt-get update (sid, private) failed"; }
  local version
  version="$(apt-cache "${apt_opts[@]}" policy bitcoin-knots | awk '/Candidate:/ {print $2}')"
  [ -n "$version" ] && [ "$version" != "(none)" ] || die "bitcoin-knots not found in sid"
  case "$version" in "$KNOTS_MAJOR".*) ;; *) die "sid has bitcoin-knots $version, expected $KNOTS_MAJOR.x";; esac

  local dest="$CACHE/knots-$version"
  if knots_root_ok "$dest"; then KNOTS_DIR="$dest"; return; fi
  log "downloading bitcoin-knots $version and its sid runtime libraries"
  ( cd "$aptdir/debs" && apt-get "${apt_opts[@]}" -q download "${KNOTS_PACKAGES[@]}" ) \
    >"$aptdir/download.log" 2>&1 || { tail -20 "$aptdir/download.log" >&2; die "apt-get download failed"; }

  local tmp="$dest.tmp.$$"
  rm -rf "$tmp"; mkdir -p "$tmp/root" "$tmp/bin"
  local pkg deb
  for pkg in "${KNOTS_PACKAGES[@]}"; do
    # newest matching .deb of this package (old versions may linger in the debs dir)
    deb="$(ls -t "$aptdir/debs/${pkg}_"*_amd64.deb 2>/dev/null | head -1)"
    [ -n "$deb" ] || die "no .deb downloaded for $pkg"
    dpkg -x "$deb" "$tmp/root"
  done

  local root="$dest/root"   # final location; wrappers must name it
  local tool
  for tool in bitcoind bitcoin-cli; do
    [ -x "$tmp/root/usr/bin/$tool" ] || die "$tool missing from bitcoin-knots package"
    cat > "$tmp/bin/$tool" <<EOF
#!/bin/sh
# Runs sid's $tool with sid's own loader and libraries (host glibc is too old for Knots $version).
R="$root"
exec "\$R/usr/lib/$ARCH_TRIPLET/ld-linux-x86-64.so.2" --library-path "\$R/usr/lib/$ARCH_TRIPLET:\$R/lib/$ARCH_TRIPLET" "\$R/usr/bin/$tool" "\$@"
EOF
    chmod +x "$tmp/bin/$tool"
  done

  # Every shared object must resolve inside the unpacked root (a fresh machine has nothing else).
  local ldso="$tmp/root/usr/lib/$ARCH_TRIPLET/ld-linux-x86-64.so.2"
  local libpath="$tmp/root/usr/lib/$ARCH_TRIPLET:$tmp/root/lib/$ARCH_TRIPLET"
  for tool in bitcoind bitcoin-cli; do
    local outside
    outside="$("$ldso" --library-path "$libpath" --list "$tmp/root/usr/bin/$tool" \
      | grep '=>' | grep -v "=> $tmp/root/" | grep -v 'ld-linux-x86-64.so.2' || true)"
    [ -z "$outside" ] || die "$tool needs libraries outside the sid bundle (add their packages):
$outside"
  done

  rm -rf "$dest"; mv "$tmp" "$dest"
  "$dest/bin/bitcoind" -version >/dev/null || die "unpacked bitcoind does not run"
  printf '%s\n' "$version" > "$dest/.complete"
  KNOTS_DIR="$dest"
}

KNOTS_DIR=""
if [ "${FULMEN_REFRESH:-0}" != 1 ]; then
  KNOTS_DIR="$(find_cached_knots)"
  if [ -n "$KNOTS_DIR" ] && ! knots_root_ok "$KNOTS_DIR"; then KNOTS_DIR=""; fi
fi
[ -n "$KNOTS_DIR" ] || install_knots
ln -sfn "$KNOTS_DIR/bin/bitcoind" "$CACHE/bin/bitcoind"
ln -sfn "$KNOTS_DIR/bin/bitcoin-cli" "$CACHE/bin/bitcoin-cli"
KNOTS_VERSION="$(cat "$KNOTS_DIR/.complete")"
log "bitcoin knots $KNOTS_VERSION: $KNOTS_DIR"

# ---------------------------------------------------------------------------------------------
# ElectrumX venv
# ---------------------------------------------------------------------------------------------
EX_DIR="$CACHE/electrumx-$ELECTRUMX_VERSION"
if [ ! -f "$EX_DIR/.complete" ] || ! "$EX_DIR/venv/bin/python" -c 'import electrumx, plyvel' 2>/dev/null; then
  [ -x "$PYTHON" ] || die "$PYTHON not found (apt-get install python3 python3-venv)"
  log "creating ElectrumX $ELECTRUMX_VERSION venv in $EX_DIR"
  rm -rf "$EX_DIR"; mkdir -p "$EX_DIR"
  "$PYTHON" -m venv "$EX_DIR/venv" || die "python venv failed (apt-get install python3-venv)"
  pip_log="$EX_DIR/pip.log"
  "$EX_DIR/venv/bin/pip" install -q --disable-pip-version-check --upgrade pip >"$pip_log" 2>&1 || true
  if ! "$EX_DIR/venv/bin/pip" install --disable-pip-version-check --prefer-binary \
        "e-x==$ELECTRUMX_VERSION" plyvel >>"$pip_log" 2>&1; then
    # No plyvel wheel for this platform: build it against Debian's leveldb.
    log "plyvel wheel unavailable; installing libleveldb-dev and build tools to compile it"
    apt_sys install -y -q libleveldb-dev build-essential python3-dev >>"$pip_log" 2>&1 \
      || { tail -20 "$pip_log" >&2; die "apt-get install libleveldb-dev failed"; }
    "$EX_DIR/venv/bin/pip" install --disable-pip-version-check "e-x==$ELECTRUMX_VERSION" plyvel \
      >>"$pip_log" 2>&1 || { tail -30 "$pip_log" >&2; die "pip install e-x plyvel failed"; }
  fi
  "$EX_DIR/venv/bin/python" -c 'import electrumx, plyvel' || die "electrumx import failed"
  echo "$ELECTRUMX_VERSION" > "$EX_DIR/.complete"
fi
ln -sfn "$EX_DIR/venv/bin/electrumx_server" "$CACHE/bin/electrumx_server"
log "electrumx $ELECTRUMX_VERSION: $EX_DIR/venv"

# ---------------------------------------------------------------------------------------------
# System packages: chromium (Playwright) and Electrum from bookworm-backports (interop peer)
# ---------------------------------------------------------------------------------------------
pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
electrum_version_ok() {
  mkdir -p "$CACHE/electrum-home"
  command -v electrum >/dev/null 2>&1 && [ "$(HOME="$CACHE/electrum-home" electrum version --offline 2>/dev/null | tail -1)" = "$ELECTRUM_VERSION" ]
}

if [ "${FULMEN_SKIP_SYSTEM:-0}" != 1 ]; then
  have_chromium=0; pkg_installed chromium && have_chromium=1
  have_electrum=0; electrum_version_ok && have_electrum=1
  if [ "$have_electrum" = 0 ] && ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    BACKPORTS_FILE=/etc/apt/sources.list.d/bookworm-backports.sources
    log "adding bookworm-backports to apt sources ($BACKPORTS_FILE)"
    $SUDO tee "$BACKPORTS_FILE" >/dev/null <<'EOF'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  fi
  lists="$(ls /var/lib/apt/lists/ 2>/dev/null || true)"
  if { [ "$have_electrum" = 0 ] && ! grep -q 'bookworm-backports.*_Packages' <<<"$lists"; } \
     || { [ "$have_chromium" = 0 ] && ! grep -q '_Packages' <<<"$lists"; }; then
    log "apt-get update"
    apt_sys update -q >/dev/null
  fi
  if [ "$have_chromium" = 0 ]; then
    log "installing chromium"
    apt_sys install -y -q --no-install-recommends chromium >/dev/null
  fi
  if [ "$have_electrum" = 0 ]; then
    log "installing electrum $ELECTRUM_VERSION from bookworm-backports"
    apt_sys install -y -q -t bookworm-backports electrum >/dev/null
    electrum_version_ok || die "electrum version is '$(HOME="$CACHE/electrum-home" electrum version --offline 2>&1 | tail -1)', expected $ELECTRUM_VERSION"
  fi
  log "chromium: $(command -v chromium) ($(dpkg-query -W -f='${Version}' chromium))"
  log "electrum: $(command -v electrum) ($ELECTRUM_VERSION)"
fi

# ---------------------------------------------------------------------------------------------
# lnd (interop peer, e2e/harness/lnd.ts), built from source with Go through the module proxy
# ---------------------------------------------------------------------------------------------
# `go install lnd@version` is refused because lnd's go.mod has replace directives, so the module
# is downloaded (go mod download) and built inside its own module directory, which honours them.
# Cache: $CACHE/lnd-<version>/bin/{lnd,lncli}; stable entry points $CACHE/bin/{lnd,lncli}.
# Env: LND_VERSION (default below), FULMEN_SKIP_LND=1 (skip; the lnd interop tests then skip).
LND_VERSION="${LND_VERSION:-v0.19.3-beta}"
LND_DIR="$CACHE/lnd-$LND_VERSION"
lnd_ok() { [ -f "$LND_DIR/.complete" ] && "$LND_DIR/bin/lnd" --version >/dev/null 2>&1 && "$LND_DIR/bin/lncli" --version >/dev/null 2>&1; }
if [ "${FULMEN_SKIP_LND:-0}" != 1 ]; then
  if ! lnd_ok; then
    command -v go >/dev/null 2>&1 || die "go not found: lnd $LND_VERSION is built from source (install Go >= 1.23, or FULMEN_SKIP_LND=1)"
    log "building lnd $LND_VERSION with $(go version | awk '{print $3}') (cold build: ~13 min of CPU; 50 min wall on a busy 2-core box)"
    lnd_started=$(date +%s)
    lnd_log="$CACHE/lnd-$LND_VERSION.build.log"
    lnd_src="$(go mod download -json "github.com/lightningnetwork/lnd@$LND_VERSION" 2>"$lnd_log" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
    [ -n "$lnd_src" ] && [ -d "$lnd_src" ] || { tail -20 "$lnd_log" >&2; die "go mod download lnd@$LND_VERSION failed"; }
    lnd_tmp="$LND_DIR.tmp.$$"
    rm -rf "$lnd_tmp"; mkdir -p "$lnd_tmp/bin"
    ( cd "$lnd_src" && go build -trimpath -ldflags "-s -w -X github.com/lightningnetwork/lnd/build.Commit=$LND_VERSION" \
        -o "$lnd_tmp/bin/" ./cmd/lnd ./cmd/lncli ) >>"$lnd_log" 2>&1 \
      || { tail -30 "$lnd_log" >&2; rm -rf "$lnd_tmp"; die "building lnd $LND_VERSION failed (log: $lnd_log)"; }
    "$lnd_tmp/bin/lnd" --version >/dev/null || die "the built lnd does not run"
    echo "$LND_VERSION" > "$lnd_tmp/.complete"
    rm -rf "$LND_DIR"; mv "$lnd_tmp" "$LND_DIR"
    log "lnd $LND_VERSION built in $(( $(date +%s) - lnd_started )) s"
  fi
  ln -sfn "$LND_DIR/bin/lnd" "$CACHE/bin/lnd"
  ln -sfn "$LND_DIR/bin/lncli" "$CACHE/bin/lncli"
  log "lnd: $("$CACHE/bin/lnd" --version | head -1)"
fi

# ---------------------------------------------------------------------------------------------
# electrs (second Electrum server implementation, e2e/harness/electrs.ts), built with cargo
# ---------------------------------------------------------------------------------------------
# electrs 0.10.x is the last series whose MSRV (1.63) fits Debian bookworm's rustc, and it links
# RocksDB 7.8.3, bookworm's librocksdb-dev, dynamically (the crate's doc/install.md, "dynamic
# linking": ROCKSDB_INCLUDE_DIR/ROCKSDB_LIB_DIR), so no RocksDB is compiled. `cargo install
# --locked` builds it from crates.io with the crate's own Cargo.lock, using Debian's cargo/rustc
# (/usr/bin, not a rustup toolchain that may be first in PATH). Bookworm's cargo (1.65) has the
# crates.io sparse index only as an unstable feature (without it, it clones the index from
# GitHub): RUSTC_BOOTSTRAP=1 + CARGO_UNSTABLE_SPARSE_REGISTRY=true turn it on.
# The shared libraries it needs beyond glibc/libstdc++ (librocksdb and its compressors) are copied
# into the cache next to it, so a cached electrs runs on a fresh machine without librocksdb.
# Cache: $CACHE/electrs-<version>/{libexec/electrs, lib/, bin/electrs (wrapper)}; stable entry
# point $CACHE/bin/electrs. Cold build: ~11 min wall on 2 busy cores (12 min CPU).
# Env: ELECTRS_VERSION (default below), FULMEN_SKIP_ELECTRS=1 (skip; the electrs interop test then skips).
ELECTRS_VERSION="${ELECTRS_VERSION:-0.10.10}"
ELECTRS_DIR="$CACHE/electrs-$ELECTRS_VERSION"
ELECTRS_BUILD_PACKAGES=(cargo rustc librocksdb-dev libclang-dev clang build-essential)
electrs_ok() { [ -f "$ELECTRS_DIR/.complete" ] && "$ELECTRS_DIR/bin/electrs" --version >/dev/null 2>&1; }
if [ "${FULMEN_SKIP_ELECTRS:-0}" != 1 ]; then
  if ! electrs_ok; then
    electrs_missing=()
    for pkg in "${ELECTRS_BUILD_PACKAGES[@]}"; do pkg_installed "$pkg" || electrs_missing+=("$pkg"); done
    if [ "${#electrs_missing[@]}" -gt 0 ]; then
      log "installing electrs build dependencies: ${electrs_missing[*]}"
      apt_sys install -y -q --no-install-recommends "${electrs_missing[@]}" >/dev/null \
        || { apt_sys update -q >/dev/null && apt_sys install -y -q --no-install-recommends "${electrs_missing[@]}" >/dev/null; } \
        || die "apt-get install ${electrs_missing[*]} failed"
    fi
    log "building electrs $ELECTRS_VERSION with $(/usr/bin/rustc --version) (cold build: ~11 min on 2 cores)"
    electrs_started=$(date +%s)
    electrs_tmp="$ELECTRS_DIR.tmp.$$"
    electrs_log="$CACHE/electrs-$ELECTRS_VERSION.build.log"
    rm -rf "$electrs_tmp"; mkdir -p "$electrs_tmp/libexec" "$electrs_tmp/lib" "$electrs_tmp/bin"
    CARGO_HOME="$electrs_tmp/cargo-home" RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc \
      RUSTC_BOOTSTRAP=1 CARGO_UNSTABLE_SPARSE_REGISTRY=true \
      ROCKSDB_INCLUDE_DIR=/usr/include ROCKSDB_LIB_DIR="/usr/lib/$ARCH_TRIPLET" \
      /usr/bin/cargo install --locked --quiet electrs --version "=$ELECTRS_VERSION" --root "$electrs_tmp/cargo-root" \
      >"$electrs_log" 2>&1 || { tail -30 "$electrs_log" >&2; rm -rf "$electrs_tmp"; die "building electrs $ELECTRS_VERSION failed (log: $electrs_log)"; }
    mv "$electrs_tmp/cargo-root/bin/electrs" "$electrs_tmp/libexec/electrs"
    rm -rf "$electrs_tmp/cargo-home" "$electrs_tmp/cargo-root"
    # Every library outside the C/C++ runtime goes into lib/ (ldd prints "name => path (addr)").
    ldd "$electrs_tmp/libexec/electrs" | awk '$2 == "=>" && $3 ~ /^\// {print $3}' \
      | grep -v -E '/(libc|libm|libpthread|libdl|librt|libgcc_s|libstdc\+\+)\.so' \
      | while read -r lib; do cp -L "$lib" "$electrs_tmp/lib/"; done
    cat > "$electrs_tmp/bin/electrs" <<EOF
#!/bin/sh
# electrs $ELECTRS_VERSION with its bundled RocksDB $(ls "$electrs_tmp/lib" | sed -n 's/^librocksdb\.so\.//p') libraries (see scripts/setup-regtest.sh).
D="$ELECTRS_DIR"
LD_LIBRARY_PATH="\$D/lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" exec "\$D/libexec/electrs" "\$@"
EOF
    chmod +x "$electrs_tmp/bin/electrs"
    echo "$ELECTRS_VERSION" > "$electrs_tmp/.complete"
    rm -rf "$ELECTRS_DIR"; mv "$electrs_tmp" "$ELECTRS_DIR"
    electrs_ok || die "the built electrs does not run: $("$ELECTRS_DIR/bin/electrs" --version 2>&1 | tail -3)"
    log "electrs $ELECTRS_VERSION built in $(( $(date +%s) - electrs_started )) s"
  fi
  ln -sfn "$ELECTRS_DIR/bin/electrs" "$CACHE/bin/electrs"
  log "electrs: $("$CACHE/bin/electrs" --version)"
fi

cat > "$CACHE/regtest.env" <<EOF
FULMEN_CACHE=$CACHE
KNOTS_VERSION=$KNOTS_VERSION
BITCOIND=$CACHE/bin/bitcoind
BITCOIN_CLI=$CACHE/bin/bitcoin-cli
ELECTRUMX_VERSION=$ELECTRUMX_VERSION
ELECTRUMX_SERVER=$CACHE/bin/electrumx_server
CHROMIUM=$(command -v chromium || true)
ELECTRUM=$(command -v electrum || true)
LND=$( [ -x "$CACHE/bin/lnd" ] && echo "$CACHE/bin/lnd" || true)
ELECTRS=$( [ -x "$CACHE/bin/electrs" ] && echo "$CACHE/bin/electrs" || true)
EOF
log "ready; summary in $CACHE/regtest.env:"
sed 's/^/  /' "$CACHE/regtest.env" >&2
