#!/bin/sh
# Which of the Debian packages named are not installed, for
# tools/install-*.sh:
#   tools/apt-missing.sh PACKAGE...            prints them on one line
#                                              (nothing when all are there)
#   tools/apt-missing.sh --install PACKAGE...  installs them (apt-get,
#       non-interactive, without recommends; through sudo unless root)
set -e
install=""
[ "${1:-}" = --install ] && { install=1; shift; }
missing=""
for p in "$@"; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing="$missing $p"
done
if [ -z "$install" ]; then
  echo "${missing# }"
  exit 0
fi
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
echo "installing:$missing"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
# shellcheck disable=SC2086
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
