#!/bin/sh
# Install what building, running and testing collectd-dsmr needs on Debian 12
# (bookworm). Safe to run again: apt-get skips what is there. Run as root, or
# as a user who may sudo.
set -e
PACKAGES="build-essential autoconf automake libtool pkg-config
  libserialport-dev libserialport0 libgcrypt20-dev collectd-core collectd-dev rrdtool
  python3 clang libclang-rt-14-dev valgrind clang-format procps tzdata"
missing=""
for p in $PACKAGES; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing="$missing $p"
done
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
echo "installing:$missing"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
# shellcheck disable=SC2086
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
