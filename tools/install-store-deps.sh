#!/bin/sh
# Install the servers the store tests (tests/stores/) talk to, on Debian 12
# (bookworm): InfluxDB 1.6 and its CLI; carbon-cache, the whisper tools and
# graphite-web (its render API runs the Graphite functions); the libraries
# collectd's write_prometheus needs but collectd-core only suggests
# (libmicrohttpd12, libprotobuf-c1) and a Prometheus server (PromQL);
# PostgreSQL; Chromium (headless, for the web page).
# Only what is missing; non-interactive; safe to run again. Run as root, or
# as a user who may sudo. Called by tests/run-all.sh.
#
# The packages' own services are not wanted: the tests start every server
# themselves on 127.0.0.1 with a temp dir. policy-rc.d keeps apt from
# starting them where no init system runs them anyway (containers), and the
# file is removed afterwards if this script created it.
set -e
PACKAGES="influxdb influxdb-client graphite-carbon python3-whisper graphite-web
  libmicrohttpd12 libprotobuf-c1 prometheus postgresql chromium"
# shellcheck disable=SC2086 # PACKAGES is a list of words
missing=$("$(dirname "$0")"/apt-missing.sh $PACKAGES)
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
echo "installing: $missing"
made_policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod 755 /usr/sbin/policy-rc.d
  made_policy=1
fi
rc=0
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq || rc=$?
if [ $rc -eq 0 ]; then
  # shellcheck disable=SC2086
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends $missing || rc=$?
fi
[ -n "$made_policy" ] && $SUDO rm -f /usr/sbin/policy-rc.d
exit $rc
