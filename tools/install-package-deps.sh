#!/bin/sh
# Install what building and testing the Debian package needs on Debian 12
# (tests/test_package.sh, tools/foreign-arch-test.sh), beside what
# tools/install-deps.sh installs: debhelper, lintian, debootstrap, and the
# emulators for foreign-architecture roots. Safe to run again: it installs
# only what is missing. Run as root, or as a user who may sudo.
#   tools/install-package-deps.sh           package build and test
#   tools/install-package-deps.sh foreign   also qemu-user-static, binfmt-support
set -e
PACKAGES="debhelper dpkg-dev lintian debootstrap fakeroot
  collectd-dev libserialport-dev libgcrypt20-dev pkgconf rrdtool python3"
[ "${1:-}" = foreign ] && PACKAGES="$PACKAGES qemu-user-static binfmt-support"
# shellcheck disable=SC2086 # PACKAGES is a list of words
exec "$(dirname "$0")"/apt-missing.sh --install $PACKAGES
