# Shared helpers for the project's scripts (sourced).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else die "need root for: $*"; fi; }

# apt_install PKG... — install Debian packages that are missing (one apt-get update per run).
APT_UPDATED=
apt_install() {
  local missing=()
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "missing packages (${missing[*]}) and no apt-get: install them by hand"
  if [ -z "$APT_UPDATED" ]; then log "apt-get update"; as_root apt-get update -qq || true; APT_UPDATED=1; fi
  log "installing ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# The Rust toolchain: the machine's, or rustup's when the machine can reach it.
ensure_rust() {
  [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
  if command -v cargo >/dev/null; then return 0; fi
  log "no cargo found: installing Rust with rustup"
  apt_install curl ca-certificates
  curl -fsSL https://sh.rustup.rs | sh -s -- -y --profile minimal || die "cannot install Rust; install a recent stable toolchain (rustup) and retry"
  export PATH="$HOME/.cargo/bin:$PATH"
}

# kubectl: the machine's (e.g. a dispatcher), else Debian's kubernetes-client.
ensure_kubectl() {
  command -v kubectl >/dev/null && return 0
  apt_install kubernetes-client
}

# What building and running the platform needs.
# /dev/null must be the null device: Rust's Stdio::null() reads it (cargo feeds it to rustc), so a
# regular file there (left by any tool that renamed a file over it) breaks builds in odd ways.
ensure_dev_null() {
  [ -c /dev/null ] && return 0
  [ "$(id -u)" -eq 0 ] || die "/dev/null is not the null device; as root: rm -f /dev/null && mknod -m 666 /dev/null c 1 3"
  log "/dev/null is a regular file; recreating the null device"
  rm -f /dev/null && mknod -m 666 /dev/null c 1 3
}

ensure_base() {
  ensure_dev_null
  apt_install ca-certificates build-essential pkg-config python3 curl
  # Images and disks: qemu-img converts and makes volumes, skopeo talks to DVCR in tests, tar/gzip/xz
  # build and unpack test images.
  apt_install qemu-utils skopeo xz-utils gzip tar
  # VMs: QEMU itself, and OVMF for the EFI bootloaders.
  ensure_qemu_system
  apt_install ovmf
  ensure_rust
  ensure_kubectl
}

# qemu-system-x86 matching qemu-utils. When qemu-utils is a bookworm backport, bookworm's own
# qemu-system-x86 conflicts with it, so it comes from bookworm-backports through a private sources
# list (the machine's /etc/apt stays untouched).
ensure_qemu_system() {
  command -v qemu-system-x86_64 >/dev/null && return 0
  command -v apt-get >/dev/null || die "qemu-system-x86_64 is missing and there is no apt-get: install QEMU by hand"
  local utils_ver
  utils_ver=$(dpkg-query -W -f '${Version}' qemu-utils 2>/dev/null || true)
  if [ "${utils_ver#*bpo}" = "$utils_ver" ]; then apt_install qemu-system-x86; return; fi
  local d=$ROOT/target/apt-backports mirror
  mirror=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) { print $i; exit } }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  [ -n "$mirror" ] || mirror=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:.*\/debian\/?$/) { print $i; exit } }' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true)
  mirror=${mirror:-http://deb.debian.org/debian}
  mkdir -p "$d/lists/partial"
  printf 'deb %s bookworm main\ndeb %s bookworm-updates main\ndeb %s bookworm-backports main\n' "$mirror" "$mirror" "$mirror" > "$d/sources.list"
  local o=(-o "Dir::Etc::sourcelist=$d/sources.list" -o Dir::Etc::sourceparts=- -o "Dir::State::lists=$d/lists")
  log "qemu-utils is a backport ($utils_ver): installing qemu-system-x86 from bookworm-backports"
  as_root apt-get "${o[@]}" update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get "${o[@]}" install -y -qq --no-install-recommends \
    -t bookworm-backports qemu-system-x86 qemu-utils || die "installing qemu-system-x86 from bookworm-backports failed"
}

# Debian's kubectl 1.20 (the documented fallback client), unpacked under target/ without installing
# it, so the tests also cover a machine whose kubectl comes from Debian. Best effort.
ensure_debian_kubectl() {
  local dir=$ROOT/target/debian-kubectl
  if [ ! -x "$dir/usr/bin/kubectl" ] && command -v apt-get >/dev/null; then
    mkdir -p "$dir" && (cd "$dir" && apt-get download -qq kubernetes-client >/dev/null 2>&1 && dpkg -x kubernetes-client_*.deb . && rm -f kubernetes-client_*.deb) || log "could not unpack Debian's kubectl; its compatibility tests will be skipped"
  fi
  [ -x "$dir/usr/bin/kubectl" ] && export DVP_KUBECTL_1_20=$dir/usr/bin/kubectl
  return 0
}

# The test guests (../shared/guest-images): the tiny image and its format variants. Both scripts
# are idempotent and cache their outputs, so a second run takes seconds. Without them the guest
# end-to-end tests would only print "skipped".
GUEST_IMAGES_CACHE=${GUEST_IMAGES_CACHE:-/var/cache/guest-images}
export GUEST_IMAGES_CACHE
ensure_guest_images() {
  local gi=$ROOT/../shared/guest-images
  if [ ! -x "$gi/build-tiny.sh" ]; then
    log "no ../shared/guest-images here; guest end-to-end tests will be skipped"
    return 0
  fi
  log "guest images (cache: $GUEST_IMAGES_CACHE)"
  "$gi/build-tiny.sh" >"$ROOT/target/guest-images.log" 2>&1 || die "build-tiny.sh failed; see target/guest-images.log"
  "$gi/make-variants.sh" "$GUEST_IMAGES_CACHE/tiny/tiny.qcow2" "$GUEST_IMAGES_CACHE/tiny-variants" \
    "raw vmdk vdi qcow2.gz raw.gz qcow2.xz raw.xz" >>"$ROOT/target/guest-images.log" 2>&1 \
    || die "make-variants.sh failed; see target/guest-images.log"
  # The Debian guest (cloud-init, sshd) takes minutes to build; its e2e test (tests/debian.rs)
  # runs whenever the image is cached. DVP_TEST_DEBIAN=1 builds it first.
  if [ "${DVP_TEST_DEBIAN:-0}" = 1 ]; then
    "$gi/build-debian.sh" >>"$ROOT/target/guest-images.log" 2>&1 || die "build-debian.sh failed; see target/guest-images.log"
  fi
}

# Guests outlive the platform by design (a dvpd restart adopts them); the acceptance checks stop
# only dvpd, so their guests (run dirs under /tmp/bars.*) are stopped here.
stop_check_guests() {
  pkill -f 'qemu-system-x86_64 .*/tmp/bars\.' 2>/dev/null || true
}

default_data_dir() { if [ "$(id -u)" -eq 0 ]; then echo /var/lib/dvp; else echo "$HOME/.local/share/dvp"; fi; }
