#!/bin/bash
# The Debian package, end to end (TAP output). Run by tests/run-all.sh as a
# step of its own, as root, NOT by `make check`: it builds the package from
# the source tree.
#
#  1. builds collectd-dsmr with `dpkg-buildpackage -us -uc -b` from a copy of
#     the tree, and an older build of it (a lower version number);
#  2. lintian: no error, no warning;
#  3. a fresh Debian 12 root (debootstrap; when debootstrap cannot run, the
#     machine itself, where the package is purged again at the end):
#     - `apt-get install ./OLDER.deb collectd`: collectd accepts the
#       configuration and logs nothing about dsmr while no meter is set up;
#     - the administrator's edit of /etc/collectd/collectd.conf.d/dsmr.conf
#       as README.Debian says, pointed at a simulated meter (tools/dsmr-sim
#       over TCP on the loopback);
#     - upgrade with `apt-get install ./CURRENT.deb`: the edit is kept, and
#       the system's collectd stores the meter's values (rrdtool, Debian's
#       default write plugin);
#     - `apt-get purge`: no file of the package is left;
#     - a fresh install of the current build, then purge again.
#  Each step's time is printed as a TAP comment.
#
# Environment: DSMR_DEBIAN_MIRROR (default http://deb.debian.org/debian),
# DSMR_PACKAGE_ROOT=host to skip debootstrap and use the machine itself.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
mirror=${DSMR_DEBIAN_MIRROR:-http://deb.debian.org/debian}

# ok, not_ok, check, diag, timed, bail, tap_done
. "$top/tests/tap.sh"

[ "$(id -u)" = 0 ] || bail "must run as root (debootstrap, chroot, apt-get)"
"$top"/tools/install-deps.sh >/dev/null || bail "tools/install-deps.sh failed"
"$top"/tools/install-package-deps.sh >/dev/null || bail "tools/install-package-deps.sh failed"
timed "installing build dependencies"

tmp=$(mktemp -d /var/tmp/dsmr-package.XXXXXX) || exit 1
root=""
sim_pid=""
cd_pid=""
mounted=""
host_policy=""
host_installed_collectd=""
cleanup() {
  [ -n "$cd_pid" ] && kill "$cd_pid" 2>/dev/null
  [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null
  [ -n "$mounted" ] && umount "$mounted" 2>/dev/null
  if [ -z "$root" ] && [ -n "${use_host:-}" ]; then
    # the machine itself: leave it as it was
    rm -f /etc/collectd/collectd.conf.d/00-dsmrtest.conf
    dpkg-query -W collectd-dsmr >/dev/null 2>&1 && apt-get purge -y -qq collectd-dsmr >/dev/null 2>&1
    [ -n "$host_installed_collectd" ] && apt-get purge -y -qq collectd >/dev/null 2>&1
    [ -n "$host_policy" ] && rm -f /usr/sbin/policy-rc.d
  fi
  wait 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# --- 1. build ---------------------------------------------------------------
# A copy of the tree: dpkg-buildpackage writes into it and into its parent.
copy_tree() { # DIR
  mkdir -p "$1"
  if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
    (cd "$top" && git ls-files -co --exclude-standard -z | xargs -0 tar cf -) | tar xf - -C "$1"
  else
    (cd "$top" && tar cf - --exclude=./build --exclude='./collectd-dsmr-*' .) | tar xf - -C "$1"
  fi
}
copy_tree "$tmp/new/collectd-dsmr"
version=$(cd "$tmp/new/collectd-dsmr" && dpkg-parsechangelog -S Version)
arch=$(dpkg --print-architecture)
if (cd "$tmp/new/collectd-dsmr" && dpkg-buildpackage -us -uc -b) >"$tmp/build.log" 2>&1; then
  ok "dpkg-buildpackage -us -uc -b builds collectd-dsmr $version"
else
  not_ok "dpkg-buildpackage -us -uc -b builds collectd-dsmr $version"
  diag "$(tail -n 30 "$tmp/build.log")"
  bail "no package to test"
fi
new_deb=$tmp/new/collectd-dsmr_${version}_$arch.deb
timed "build $version (with the unit tests)"

# The older build: the same tree, a changelog entry with a lower version.
old_version=${version%-*}-0~older1
copy_tree "$tmp/old/collectd-dsmr"
(
  cd "$tmp/old/collectd-dsmr" &&
    {
      printf 'collectd-dsmr (%s) bookworm; urgency=medium\n\n  * An older build for the upgrade test.\n\n' "$old_version"
      printf ' -- %s  %s\n\n' "$(dpkg-parsechangelog -S Maintainer)" "$(date -R)"
      cat debian/changelog
    } >debian/changelog.new && mv debian/changelog.new debian/changelog
)
if (cd "$tmp/old/collectd-dsmr" && DEB_BUILD_OPTIONS=nocheck dpkg-buildpackage -us -uc -b) \
  >"$tmp/build-old.log" 2>&1; then
  ok "an older build ($old_version) builds too"
else
  not_ok "an older build ($old_version) builds too"
  diag "$(tail -n 30 "$tmp/build-old.log")"
  bail "no older package for the upgrade test"
fi
old_deb=$tmp/old/collectd-dsmr_${old_version}_$arch.deb
check "$old_version sorts before $version" dpkg --compare-versions "$old_version" lt "$version"
timed "build $old_version (nocheck)"

# What the package holds, as the plan says
contents=$(dpkg-deb -c "$new_deb" | awk '{print $6}' | sed 's|^\./|/|')
for f in /usr/lib/collectd/dsmr.so /usr/share/collectd/dsmr.db /usr/bin/dsmr-cat \
  /usr/share/man/man1/dsmr-cat.1.gz /usr/share/man/man5/collectd-dsmr.5.gz \
  /usr/share/doc/collectd-dsmr/README.Debian /usr/share/doc/collectd-dsmr/copyright \
  /usr/share/doc/collectd-dsmr/examples/dsmr.conf /usr/share/doc/collectd-dsmr/examples/99-p1.rules \
  /etc/collectd/collectd.conf.d/dsmr.conf; do
  check "the package holds $f" grep -qx "$f" <<<"$contents"
done
deps=$(dpkg-deb -f "$new_deb" Depends)
diag "Depends: $deps"
check "it depends on collectd-core and the libraries it links (libserialport, libgcrypt)" \
  bash -c '[[ "$1" == *collectd-core* && "$1" == *libserialport* && "$1" == *libgcrypt* ]]' _ "$deps"

# --- 2. lintian ---------------------------------------------------------------
if lintian --fail-on error,warning "$tmp/new/collectd-dsmr_${version}_$arch.changes" \
  >"$tmp/lintian.log" 2>&1; then
  ok "lintian: no error, no warning"
else
  not_ok "lintian: no error, no warning"
fi
diag "$(grep -v 'running with root privileges' "$tmp/lintian.log")"
timed "lintian"

# --- 3. a fresh Debian 12 root --------------------------------------------------
if [ "${DSMR_PACKAGE_ROOT:-}" != host ] &&
  debootstrap --variant=minbase bookworm "$tmp/root" "$mirror" >"$tmp/debootstrap.log" 2>&1; then
  root=$tmp/root
  ok "debootstrap: a fresh Debian 12 root"
  cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null
  # The machine's name resolves, as on an installed system (Debian's
  # collectd.conf sets FQDNLookup, and collectd exits when the lookup fails)
  printf '127.0.1.1\t%s\n' "$(hostname)" >>"$root/etc/hosts"
  # no service starts inside the root (there is no init in it)
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod +x "$root/usr/sbin/policy-rc.d"
  mount -t proc proc "$root/proc" && mounted=$root/proc
  timed "debootstrap"
else
  [ "${DSMR_PACKAGE_ROOT:-}" = host ] || diag "debootstrap failed, using this machine:" \
    "$(tail -n 5 "$tmp/debootstrap.log")"
  use_host=1
  ok "the machine itself as the Debian 12 system # SKIP no debootstrap root"
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    host_policy=1
  fi
  dpkg-query -W -f='${Status}\n' collectd 2>/dev/null | grep -q "install ok installed" ||
    host_installed_collectd=1
fi
in_root() { if [ -n "$root" ]; then chroot "$root" "$@"; else "$@"; fi; }
apt_root() { in_root env DEBIAN_FRONTEND=noninteractive apt-get -y -q "$@"; }
mkdir -p "$root/tmp/dsmr-debs"
cp "$new_deb" "$old_deb" "$root/tmp/dsmr-debs/"
new_in=/tmp/dsmr-debs/${new_deb##*/}
old_in=/tmp/dsmr-debs/${old_deb##*/}
conf=/etc/collectd/collectd.conf.d/dsmr.conf
log=/var/log/dsmrtest-collectd.log

in_root apt-get update -q >"$tmp/apt.log" 2>&1
# Without collectd's Recommends, to stay small; but the processes plugin,
# which Debian's default collectd.conf loads, needs libmnl0 from them
# (without it collectd refuses the whole configuration).
if apt_root install --no-install-recommends "$old_in" collectd libmnl0 >>"$tmp/apt.log" 2>&1; then
  ok "apt-get install ./${old_deb##*/} collectd"
else
  not_ok "apt-get install ./${old_deb##*/} collectd"
  diag "$(tail -n 20 "$tmp/apt.log")"
  bail "cannot go on without the package installed"
fi
check "collectd-dsmr $old_version is installed" \
  test "$(in_root dpkg-query -W -f='${Version}' collectd-dsmr)" = "$old_version"
timed "apt-get install (older build and collectd)"

# The test's own instrumentation: collectd's log in a file.
mkdir -p "$root/etc/collectd/collectd.conf.d"
cat >"$root/etc/collectd/collectd.conf.d/00-dsmrtest.conf" <<EOF
LoadPlugin logfile
<Plugin logfile>
  LogLevel info
  File "$log"
</Plugin>
EOF

run_collectd() { # SECONDS [wait-for-glob]: collectd in the foreground for up to SECONDS
  local secs=$1 pattern=${2:-} i
  rm -f "$root$log"
  # Not through in_root: a function run in the background is a subshell,
  # and $! would be that shell, not collectd; killing it left collectd
  # running in the root after the test (seen: two daemons in a deleted
  # root). chroot execs collectd, so $! is collectd itself.
  if [ -n "$root" ]; then
    chroot "$root" /usr/sbin/collectd -f -C /etc/collectd/collectd.conf >"$tmp/collectd.out" 2>&1 &
  else
    /usr/sbin/collectd -f -C /etc/collectd/collectd.conf >"$tmp/collectd.out" 2>&1 &
  fi
  cd_pid=$!
  for ((i = 0; i < secs * 2; i++)); do
    sleep 0.5
    kill -0 "$cd_pid" 2>/dev/null || break
    # shellcheck disable=SC2086
    [ -n "$pattern" ] && compgen -G "$root$pattern" >/dev/null && sleep 3 && break
  done
  cd_alive=no
  kill -0 "$cd_pid" 2>/dev/null && cd_alive=yes
  kill "$cd_pid" 2>/dev/null
  wait "$cd_pid" 2>/dev/null
  cd_pid=""
}

# Installed, not configured: collectd runs as before.
check "collectd -t accepts the configuration as installed" in_root /usr/sbin/collectd -t -C /etc/collectd/collectd.conf
run_collectd 6
if [ "$cd_alive" = yes ]; then
  ok "collectd runs with the package installed and no meter configured"
else
  not_ok "collectd runs with the package installed and no meter configured"
  diag "$(tail -n 5 "$root$log" "$tmp/collectd.out" 2>/dev/null)"
fi
if [ -s "$root$log" ] && ! grep -qi dsmr "$root$log"; then
  ok "a collectd running with the package installed, no meter configured, logs nothing about dsmr"
else
  not_ok "a collectd running with the package installed, no meter configured, logs nothing about dsmr"
  diag "$(grep -i dsmr "$root$log" 2>/dev/null || echo "no log written: $(tail -5 "$tmp/collectd.out")")"
fi
check "the installed $conf loads no plugin" bash -c "! grep -q '^[[:space:]]*LoadPlugin' '$root$conf'"
timed "collectd without a meter"

# The administrator's edit, as README.Debian says (step 2), pointed at a
# simulated meter over TCP instead of a serial cable.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed -i 's/^#>//' "$root$conf"
sed -i "s|^\([[:space:]]*\)Device \"/dev/ttyUSB0\"|\1Host \"127.0.0.1\"\n\1Port $port|" "$root$conf"
check "the edit of README.Debian step 2 gives an active <Meter \"home\"> with Host and Port" \
  bash -c "grep -q '^LoadPlugin dsmr' '$root$conf' && grep -q '^ *<Meter \"home\">' '$root$conf' &&
    grep -q '^ *Port $port' '$root$conf'"

# --- upgrade -------------------------------------------------------------------
if apt_root install --no-install-recommends "$new_in" >"$tmp/apt-upgrade.log" 2>&1; then
  ok "upgrade: apt-get install ./${new_deb##*/} over $old_version"
else
  not_ok "upgrade: apt-get install ./${new_deb##*/} over $old_version"
  diag "$(tail -n 20 "$tmp/apt-upgrade.log")"
fi
check "collectd-dsmr $version is installed" \
  test "$(in_root dpkg-query -W -f='${Version}' collectd-dsmr)" = "$version"
check "the upgrade kept the administrator's edit of $conf" grep -q "^ *Port $port" "$root$conf"
check "collectd -t accepts the edited configuration" in_root /usr/sbin/collectd -t -C /etc/collectd/collectd.conf
timed "upgrade"

# --- values through the system's collectd ------------------------------------------
python3 "$top/tools/dsmr-sim" --tcp "127.0.0.1:$port" --generate dsmr5 --interval 1 --no-solar --quiet \
  >"$tmp/sim.log" 2>&1 &
sim_pid=$!
rrd_glob="/var/lib/collectd/rrd/*/dsmr-home/power-import.rrd"
run_collectd 60 "$rrd_glob"
kill "$sim_pid" 2>/dev/null
wait "$sim_pid" 2>/dev/null
sim_pid=""
rrd=$(compgen -G "$root$rrd_glob" | head -n 1)
if [ -n "$rrd" ]; then
  ok "the system's collectd stored the meter's power in ${rrd#"$root"}"
  last=$(rrdtool lastupdate "$rrd" 2>&1 | tail -n 1)
  diag "rrdtool lastupdate: $last"
  # --no-solar: the simulated house imports at any hour, so power > 0
  check "the stored power is a positive number of watts" \
    awk -F': ' 'NF == 2 && $2 + 0 > 0 { found = 1 } END { exit !found }' <<<"$last"
else
  not_ok "the system's collectd stored the meter's power (rrdtool)"
  diag "$(tail -n 20 "$root$log" 2>/dev/null; tail -n 5 "$tmp/collectd.out" "$tmp/sim.log")"
fi
check "collectd logged no dsmr error" bash -c "! grep -i 'dsmr' '$root$log' | grep -qi 'error'"
n_rrd=$(compgen -G "$root/var/lib/collectd/rrd/*/dsmr-home/*.rrd" | wc -l)
diag "rrd files of dsmr-home: $n_rrd"
timed "collectd reading the simulated meter"

# --- purge -----------------------------------------------------------------------
rm -f "$root/etc/collectd/collectd.conf.d/00-dsmrtest.conf" "$root$log"
purge_and_check() { # LABEL
  local files left="" p
  files=$(in_root dpkg-query -L collectd-dsmr)
  files="$files"$'\n'"$(in_root cat /var/lib/dpkg/info/collectd-dsmr.conffiles 2>/dev/null)"
  if apt_root purge collectd-dsmr >"$tmp/apt-purge.log" 2>&1; then
    ok "$1: apt-get purge collectd-dsmr"
  else
    not_ok "$1: apt-get purge collectd-dsmr"
    diag "$(tail -n 20 "$tmp/apt-purge.log")"
  fi
  check "$1: the package is gone from dpkg's database" \
    bash -c "! ${root:+chroot '$root'} dpkg-query -W -f='\${Status}' collectd-dsmr 2>/dev/null | grep -q installed"
  while IFS= read -r p; do
    [ -n "$p" ] && [ "$p" != /. ] || continue
    [ -e "$root$p" ] || [ -L "$root$p" ] || continue
    # a directory another package owns (/usr/bin, /etc/collectd, ...) stays
    [ -d "$root$p" ] && in_root dpkg-query -S "$p" >/dev/null 2>&1 && continue
    left="$left $p"
  done <<<"$files"
  if [ -z "$left" ]; then
    ok "$1: no file of the package is left"
  else
    not_ok "$1: no file of the package is left"
    diag "left:$left"
  fi
}
purge_and_check "after the upgrade"
timed "purge"

# --- a fresh install of the current build ------------------------------------------
if apt_root install --no-install-recommends "$new_in" >"$tmp/apt.log" 2>&1; then
  ok "fresh install: apt-get install ./${new_deb##*/}"
else
  not_ok "fresh install: apt-get install ./${new_deb##*/}"
  diag "$(tail -n 20 "$tmp/apt.log")"
fi
check "fresh install: $conf is the inactive one again (the purge removed the edit)" \
  bash -c "grep -q '^#>LoadPlugin dsmr' '$root$conf' && ! grep -q '^ *Port $port' '$root$conf'"
check "fresh install: dsmr-cat runs" bash -c "${root:+chroot '$root'} dsmr-cat --help | grep -q '^usage: dsmr-cat'"
check "fresh install: collectd -t accepts the configuration" in_root /usr/sbin/collectd -t -C /etc/collectd/collectd.conf
purge_and_check "fresh install"
timed "fresh install and purge"

diag "time: total: $(($(date +%s) - t_start)) s"
tap_done
