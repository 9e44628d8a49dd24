#!/bin/bash
# collectd-dsmr on another architecture, built and tested natively inside an
# emulated Debian 12 root (qemu-user-static + binfmt_misc). TAP output.
#
#   tools/foreign-arch-test.sh ARCH        ARCH: arm64, armhf or s390x
#
# Steps (each timed, as a TAP comment):
#  1. binfmt_misc mounted and qemu's handler for ARCH enabled;
#  2. `debootstrap --arch=ARCH` a Debian 12 root; `apt-get update` there may
#     report an index error (the foreign-architecture indexes of a mirror can
#     lag behind the amd64 ones): the script says so and goes on with the
#     indexes it has;
#  3. the build dependencies installed inside; the .deb for ARCH built
#     (dpkg-buildpackage -us -uc -b, with -Werror), copied to OUTDIR;
#  4. the C unit tests (make check TESTS='$(UNIT_TESTS)') in that build;
#  5. the dsmr-cat corpus test (tests/test_dsmr_cat.py), and every corpus
#     telegram through `dsmr-cat --json` compared with this machine's
#     dsmr-cat: the same JSON byte for byte;
#  6. that package installed in the root and ARCH's own collectd reading the
#     simulator (tools/dsmr-sim on this machine, TCP on the loopback) for a
#     short run: values in its csv files.
#
# Run as root on an amd64 Debian 12 machine with network access. Times
# measured on a 2-core machine: see HACKING.md ("The Debian package and
# other architectures").
# Environment: DSMR_DEBIAN_MIRROR (default http://deb.debian.org/debian),
# DSMR_DEBIAN_SECURITY_MIRROR (default http://deb.debian.org/debian-security),
# DSMR_FOREIGN_WORKDIR (default /var/tmp/dsmr-foreign; the root is
# WORKDIR/ARCH, the packages go to WORKDIR/ARCH-debs), DSMR_FOREIGN_KEEP=1
# keeps the root afterwards and reuses an existing one (for repeated runs).
set -u
arch=${1:-}
case $arch in
arm64) qemu=aarch64 ;;
armhf) qemu=arm ;;
s390x) qemu=s390x ;;
*)
  echo "usage: $0 arm64|armhf|s390x" >&2
  exit 2
  ;;
esac
top=$(cd "$(dirname "$0")/.." && pwd)
mirror=${DSMR_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${DSMR_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
work=${DSMR_FOREIGN_WORKDIR:-/var/tmp/dsmr-foreign}
root=$work/$arch
outdir=$work/$arch-debs
keep=${DSMR_FOREIGN_KEEP:-}
jobs=$(nproc 2>/dev/null || echo 2)

# ok, not_ok, check, diag, timed, bail, tap_done; every line names the arch
tap_prefix="$arch: "
. "$top/tests/tap.sh"
finish() {
  diag "time: $arch: total: $(($(date +%s) - t_start)) s"
  tap_done
  exit
}
[ "$(id -u)" = 0 ] || bail "must run as root (binfmt_misc, debootstrap, chroot)"

sim_pid=""
mounts=()
tmp=$(mktemp -d /var/tmp/dsmr-foreign-tmp.XXXXXX) || exit 1
cleanup() {
  [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null
  [ -f "$root/build/run/collectd.pid" ] && kill "$(cat "$root/build/run/collectd.pid")" 2>/dev/null
  local m
  for m in "${mounts[@]}"; do umount "$m" 2>/dev/null; done
  wait 2>/dev/null
  # Never delete through a mount that is still there (the host's /dev/pts).
  if [ -z "$keep" ] && ! grep -q " $root/" /proc/mounts; then
    rm -rf "$root"
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
in_root() { chroot "$root" env LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }

# --- 1. emulation -----------------------------------------------------------------
"$top"/tools/install-deps.sh >/dev/null || bail "tools/install-deps.sh failed"
"$top"/tools/install-package-deps.sh foreign >/dev/null || bail "tools/install-package-deps.sh failed"
if [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || bail "cannot mount binfmt_misc"
fi
update-binfmts --enable "qemu-$qemu" >/dev/null 2>&1
check "qemu-$qemu is registered with binfmt_misc" grep -qx enabled "/proc/sys/fs/binfmt_misc/qemu-$qemu"
timed "binfmt_misc"

# --- 2. the root --------------------------------------------------------------------
mkdir -p "$work"
if [ -n "$keep" ] && [ -x "$root/usr/bin/apt-get" ]; then
  ok "Debian 12 $arch root (reused: $root)"
else
  rm -rf "$root"
  if debootstrap --arch="$arch" --variant=minbase bookworm "$root" "$mirror" >"$tmp/debootstrap.log" 2>&1; then
    ok "debootstrap --arch=$arch bookworm"
  else
    not_ok "debootstrap --arch=$arch bookworm"
    diag "$(tail -n 20 "$tmp/debootstrap.log")"
    bail "no root"
  fi
fi
cat >"$root/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $security bookworm-security main
EOF
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod +x "$root/usr/sbin/policy-rc.d"
# Under emulation every fsync and man-db's index rebuild cost minutes: a
# throw-away root needs neither.
echo force-unsafe-io >"$root/etc/dpkg/dpkg.cfg.d/unsafe-io"
printf 'path-exclude /usr/share/man/*\npath-exclude /usr/share/doc/*\npath-include /usr/share/doc/*/copyright\n' \
  >"$root/etc/dpkg/dpkg.cfg.d/no-docs"
mount -t proc proc "$root/proc" && mounts+=("$root/proc")
# The host's pseudo-terminals: the root's /dev/ptmx opens one of the
# host's, whose /dev/pts/N must then exist inside too (test_dsmr_cat.py
# reads a pty; without this its open said ENOENT).
mkdir -p "$root/dev/pts"
mount --bind /dev/pts "$root/dev/pts" && mounts+=("$root/dev/pts")
check "programs of the root run under emulation ($(in_root uname -m 2>/dev/null))" \
  test "$(in_root dpkg --print-architecture 2>/dev/null)" = "$arch"
timed "debootstrap"

# A failed index (e.g. a foreign security index that fails its size check
# while the mirror syncs) makes apt-get update exit non-zero: say so and go
# on with the indexes that did arrive.
if in_root apt-get update >"$tmp/update.log" 2>&1; then
  ok "apt-get update"
else
  ok "apt-get update reported an error; going on with the indexes it has"
  diag "$(grep -E '^(E|W|Err):' "$tmp/update.log" | head -n 5)"
fi
BUILD_DEPS="build-essential autoconf automake libtool pkgconf libserialport-dev
  libgcrypt20-dev collectd-core collectd-dev python3 debhelper dpkg-dev"
# shellcheck disable=SC2086
if in_root apt-get install -y -q --no-install-recommends $BUILD_DEPS >"$tmp/install.log" 2>&1; then
  ok "build dependencies installed inside"
else
  not_ok "build dependencies installed inside"
  diag "$(tail -n 20 "$tmp/install.log")"
  bail "cannot build without them"
fi
timed "apt-get update and build dependencies"

# --- 3. build: the package, which builds the tree once -------------------------------------
# dh builds in the source tree, so the unit tests and dsmr-cat below use that
# same build (compiling twice costs minutes under emulation). -Werror on top
# of the project's -Wall -Wextra, as --enable-werror gives.
src=/build/collectd-dsmr
rm -rf "$root/build" "$tmp/host" && mkdir -p "$root$src" "$tmp/host/src"
if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
  (cd "$top" && git ls-files -co --exclude-standard -z | xargs -0 tar cf -) | tar xf - -C "$root$src"
else
  (cd "$top" && tar cf - --exclude=./build --exclude='./collectd-dsmr-*' .) | tar xf - -C "$root$src"
fi
cp -a "$root$src/." "$tmp/host/src"
if in_root sh -c "cd $src && DEB_CFLAGS_APPEND=-Werror DEB_BUILD_OPTIONS=nocheck \
    dpkg-buildpackage -us -uc -b" >"$tmp/deb.log" 2>&1; then
  ok "native build with -Werror: dpkg-buildpackage -us -uc -b"
else
  not_ok "native build with -Werror: dpkg-buildpackage -us -uc -b"
  diag "$(tail -n 30 "$tmp/deb.log")"
  bail "nothing to test"
fi
deb=$(compgen -G "$root/build/collectd-dsmr_*_$arch.deb" | head -n 1)
if [ -n "$deb" ]; then
  mkdir -p "$outdir" && cp "$deb" "$outdir/"
  ok "collectd-dsmr for $arch: $outdir/${deb##*/}"
else
  not_ok "a collectd-dsmr_*_$arch.deb was built"
fi
timed "build and package"

# --- 4. unit tests ------------------------------------------------------------------------
if in_root make -C "$src" check 'TESTS=$(UNIT_TESTS)' >"$tmp/unit.log" 2>&1; then
  ok "C unit tests"
else
  not_ok "C unit tests"
fi
units=$(cat "$root$src"/tests/test_*.log 2>/dev/null | grep -c '^ok ')
bad=$(cat "$root$src"/tests/test_*.log 2>/dev/null | grep -c '^not ok ')
diag "unit assertions: $units passed, $bad failed"
diag "$(cat "$root$src"/tests/test_*.log 2>/dev/null | grep -E '^(not ok|Bail out)' | head -n 20)"
timed "unit tests"

# --- 5. dsmr-cat: the corpus test, and the same JSON as this machine's ------------------
if in_root make -C "$src" check TESTS=tests/test_dsmr_cat.py >"$tmp/cat.log" 2>&1; then
  ok "dsmr-cat corpus test (tests/test_dsmr_cat.py)"
else
  not_ok "dsmr-cat corpus test (tests/test_dsmr_cat.py)"
  diag "$(grep -E '^not ok' "$root$src/tests/test_dsmr_cat.log" | head -n 10)"
fi
# this machine's dsmr-cat, from the same tree
if (cd "$tmp/host/src" && ./autogen.sh && mkdir b && cd b && ../configure && make -j"$jobs" dsmr-cat) \
  >"$tmp/host-build.log" 2>&1; then
  total=0
  differ=""
  for t in "$root$src"/tests/corpus/telegrams/*; do
    [ -f "$t" ] || continue
    total=$((total + 1))
    name=${t##*/}
    # the same relative name on both sides: messages name the file
    (cd "${t%/*}" && "$tmp/host/src/b/dsmr-cat" --json "$name") >"$tmp/host.json" 2>&1
    echo "exit $?" >>"$tmp/host.json"
    in_root sh -c 'cd "$1" && "$2" --json "$3"' _ "$src/tests/corpus/telegrams" "$src/dsmr-cat" \
      "$name" >"$tmp/foreign.json" 2>&1
    echo "exit $?" >>"$tmp/foreign.json"
    cmp -s "$tmp/host.json" "$tmp/foreign.json" || differ="$differ $name"
  done
  if [ "$total" -gt 0 ] && [ -z "$differ" ]; then
    ok "dsmr-cat --json gives the same output as on $(dpkg --print-architecture) for all $total corpus telegrams"
  else
    not_ok "dsmr-cat --json gives the same output as on $(dpkg --print-architecture) for all $total corpus telegrams"
    diag "differ:$differ"
  fi
else
  not_ok "this machine's dsmr-cat builds, for the comparison"
  diag "$(tail -n 10 "$tmp/host-build.log")"
fi
timed "dsmr-cat corpus"
[ -n "$deb" ] || finish

# --- 6. the package in the root, and ARCH's collectd reading the simulator ---------------------
if in_root apt-get install -y -q --no-install-recommends "/build/${deb##*/}" >"$tmp/pkg.log" 2>&1; then
  ok "apt-get install ./${deb##*/}"
else
  not_ok "apt-get install ./${deb##*/}"
  diag "$(tail -n 10 "$tmp/pkg.log")"
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$root/build/run"
cat >"$root/build/run/collectd.conf" <<EOF
Hostname "foreign"
FQDNLookup false
BaseDir "/build/run"
PIDFile "/build/run/collectd.pid"
Interval 2
TypesDB "/usr/share/collectd/types.db" "/usr/share/collectd/dsmr.db"
LoadPlugin logfile
<Plugin logfile>
  LogLevel info
  File "/build/run/collectd.log"
</Plugin>
LoadPlugin csv
<Plugin csv>
  DataDir "/build/run/csv"
</Plugin>
LoadPlugin dsmr
<Plugin dsmr>
  <Meter "home">
    Host "127.0.0.1"
    Port $port
  </Meter>
</Plugin>
EOF
python3 "$top/tools/dsmr-sim" --tcp "127.0.0.1:$port" --generate dsmr5 --interval 1 --no-solar --quiet \
  >"$tmp/sim.log" 2>&1 &
sim_pid=$!
in_root /usr/sbin/collectd -f -C /build/run/collectd.conf >"$tmp/collectd.out" 2>&1 &
cd_pid=$!
csv_glob="$root/build/run/csv/foreign/dsmr-home/power-import-*"
for ((i = 0; i < 120; i++)); do
  sleep 1
  kill -0 "$cd_pid" 2>/dev/null || break
  compgen -G "$csv_glob" >/dev/null && [ "$(cat $csv_glob | wc -l)" -ge 3 ] && break
done
kill "$cd_pid" 2>/dev/null
wait "$cd_pid" 2>/dev/null
kill "$sim_pid" 2>/dev/null
wait "$sim_pid" 2>/dev/null
sim_pid=""
csv=$(compgen -G "$csv_glob" | head -n 1)
# --no-solar: the simulated house imports at any hour, so power > 0
if [ -n "$csv" ] && awk -F, '$1 + 0 > 0 && $2 + 0 > 0 { found = 1 } END { exit !found }' "$csv"; then
  ok "$arch's collectd stored the simulated meter's power (csv: $(tail -n 1 "$csv"))"
else
  not_ok "$arch's collectd stored the simulated meter's power"
  diag "$(tail -n 15 "$root/build/run/collectd.log" 2>/dev/null; tail -n 5 "$tmp/collectd.out" "$tmp/sim.log")"
fi
check "its log has no dsmr error" bash -c "! grep -i 'dsmr' '$root/build/run/collectd.log' | grep -qi error"
timed "collectd reading the simulator"
finish
