#!/bin/sh
# Install what building, running and testing collectd-dsmr needs on Debian 12
# (bookworm). Safe to run again: apt-get skips what is there. Run as root, or
# as a user who may sudo.
set -e
PACKAGES="build-essential autoconf automake libtool pkg-config
  libserialport-dev libserialport0 libgcrypt20-dev collectd-core collectd-dev rrdtool
  python3 clang libclang-rt-14-dev valgrind clang-format procps tzdata"
# shellcheck disable=SC2086 # PACKAGES is a list of words
exec "$(dirname "$0")"/apt-missing.sh --install $PACKAGES
