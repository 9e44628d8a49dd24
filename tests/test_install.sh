#!/bin/sh
# `make install` / `make uninstall` behave like a collectd plugin's: dsmr.so
# in collectd's plugin directory (as configure detected it), dsmr.db in the
# types directory, dsmr-cat in bindir, collectd-dsmr(5) in man5; uninstall
# leaves nothing behind; the man page renders without warnings and documents
# every option, identifier and notification. TAP output.
#
# Runs `make install DESTDIR=...` in $top_builddir, so it exercises the real
# install rules (and, under `make distcheck`, those of the distributed tree).

: "${top_builddir:?top_builddir must be set (make check sets it)}"
: "${top_srcdir:?top_srcdir must be set (make check sets it)}"
MAKE=${MAKE:-make}
# The makes below are a user's `make install`, not part of the make running
# this test: do not inherit its flags (-w, jobserver, TESTS=...).
unset MAKEFLAGS MFLAGS MAKELEVEL

. "$top_srcdir/tests/tap.sh"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dsmr-install.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
dest=$tmp/root

# A variable as the Makefile expands it (collectdplugindir may be
# '${prefix}/lib/collectd' or an absolute path chosen by configure).
var() {
  printf 'print-it:\n\t@echo "value=$(%s)"\n' "$1" >"$tmp/print.mk"
  (cd "$top_builddir" && $MAKE -s -f Makefile -f "$tmp/print.mk" print-it) |
    sed -n 's/^value=//p'
}
plugindir=$(var collectdplugindir)
typesdir=$(var collectdtypesdir)
bindir=$(var bindir)
man5dir=$(var man5dir)
man1dir=$(var man1dir)
diag "plugindir=$plugindir typesdir=$typesdir bindir=$bindir man5dir=$man5dir man1dir=$man1dir"
for d in "$plugindir" "$typesdir" "$bindir" "$man5dir" "$man1dir"; do
  case $d in
  /*) ;;
  *)
    echo "Bail out! cannot read the install directories from $top_builddir/Makefile"
    exit 1
    ;;
  esac
done

# --- install ---------------------------------------------------------------
if $MAKE -C "$top_builddir" install DESTDIR="$dest" >"$tmp/install.log" 2>&1; then
  ok "make install DESTDIR=... succeeds"
else
  not_ok "make install DESTDIR=... succeeds"
  diag "$(tail -n 20 "$tmp/install.log")"
fi

so=$dest$plugindir/dsmr.so
check "dsmr.so is in collectd's plugin directory ($plugindir)" test -f "$so"
# collectd looks up module_register with dlsym: it must be exported.
if command -v nm >/dev/null 2>&1; then
  check "dsmr.so exports module_register" \
    sh -c "nm -D --defined-only '$so' | grep -q ' T module_register\$'"
else
  skip "dsmr.so exports module_register" "nm not found"
fi
check "no libtool archive dsmr.la beside it (collectd loads the .so alone)" \
  test ! -e "$dest$plugindir/dsmr.la"
check "dsmr.db is in the types directory ($typesdir), unchanged" \
  cmp -s "$top_srcdir/types/dsmr.db" "$dest$typesdir/dsmr.db"
check "dsmr-cat is in bindir ($bindir) and runs" \
  sh -c "'$dest$bindir/dsmr-cat' --help 2>&1 | grep -q '^usage: dsmr-cat'"
man=$dest$man5dir/collectd-dsmr.5
check "collectd-dsmr.5 is in man5 ($man5dir)" test -s "$man"
man1=$dest$man1dir/dsmr-cat.1
check "dsmr-cat.1 is in man1 ($man1dir)" test -s "$man1"

# --- the man pages ---------------------------------------------------------
renders() { # PAGE: "the man page PAGE renders without warnings"
  page=$1
  name=$(basename "$page")
  if [ ! -s "$page" ]; then
    not_ok "$name renders without warnings (not installed)"
    return
  fi
  if command -v groff >/dev/null 2>&1; then
    renderer=groff
    groff -man -Tutf8 -ww "$page" >"$tmp/man.txt" 2>"$tmp/man.err"
  elif command -v man >/dev/null 2>&1; then
    renderer=man
    MANWIDTH=80 man --warnings -l "$page" >"$tmp/man.txt" 2>"$tmp/man.err"
  else
    skip "$name renders without warnings" "neither groff nor man found"
    return
  fi
  if [ -s "$tmp/man.txt" ] && [ ! -s "$tmp/man.err" ] &&
    ! grep -q "POD ERRORS" "$tmp/man.txt"; then
    ok "$name renders with $renderer without warnings"
  else
    not_ok "$name renders with $renderer without warnings"
    diag "$(head -n 20 "$tmp/man.err")"
  fi
}
renders "$man"
renders "$man1"

# Every option dsmr-cat accepts (its argument parser, src/dsmr_cat.c) is an
# item of dsmr-cat(1).
cat_pod=$top_srcdir/doc/dsmr-cat.pod
cat_options=$(grep -o 'strcmp(a, "-[-a-z]*")' "$top_srcdir/src/dsmr_cat.c" |
  sed 's/strcmp(a, "\(.*\)")/\1/' | grep -v '^--$' | sort -u)
missing=
for o in $cat_options; do
  grep '^=item ' "$cat_pod" | grep -q -F "B<$o>" || missing="$missing $o"
done
if [ "$(echo "$cat_options" | grep -c .)" -gt 10 ] && [ -z "$missing" ]; then
  ok "dsmr-cat(1) documents every option dsmr-cat accepts ($(echo $cat_options | wc -w))"
else
  not_ok "dsmr-cat(1) documents every option dsmr-cat accepts; missing:$missing"
fi

# Everything a user can configure or receive is in the man page: the options
# the plugin accepts (from plugin_config.c), the identifiers and
# notifications README.md lists, and the types in dsmr.db. Checked against
# the POD source, which is what the page is built from.
pod=$top_srcdir/doc/collectd-dsmr.pod
missing=
options=$(sed -n '/^#define OPTIONS_ACCEPTED/,/^$/p' \
  "$top_srcdir/src/plugin_config.c" | grep -o '"[^"]*"' | tr -d '"' |
  tr ',' '\n' | tr -d ' ')
for o in $options; do
  grep -q "^=item B<$o>" "$pod" || missing="$missing $o"
done
if [ -n "$options" ] && [ -z "$missing" ]; then
  ok "the man page documents every option ($(echo $options | wc -w))"
else
  not_ok "the man page documents every option; missing:$missing"
fi
# ... and the drop-in puts each in its place (the man page says what it means)
missing=
for o in $options; do
  grep -q -E "^ *#?$o " "$top_srcdir/collectd.conf.d/dsmr.conf" || missing="$missing $o"
done
if [ -n "$options" ] && [ -z "$missing" ]; then
  ok "collectd.conf.d/dsmr.conf has every option"
else
  not_ok "collectd.conf.d/dsmr.conf has every option; missing:$missing"
fi

# Identifiers, from where the mapper takes them: each row of the OBIS
# table (src/lib/obis.c) that names a type instance, with the type its kind
# gets in the mapper's number rules (src/lib/mapper.c); then the backquoted
# identifiers of README's at-a-glance table, the types in dsmr.db and the
# notification type instances.
kinds=$(grep -o '^ *\[OBIS_[A-Z_]*\] = {"[a-z_]*"' "$top_srcdir/src/lib/mapper.c" |
  sed 's/^ *\[\(OBIS_[A-Z_]*\)\] = {"\([a-z_]*\)"/\1=\2/')
table=$(grep -E '^ *[XM]\(' "$top_srcdir/src/lib/obis.c" |
  sed -n 's/^ *[XM]([^,]*,[^,]*,[^,]*,[^,]*,[^,]*, *\(OBIS_[A-Z_]*\), *[0-9]*, *"\([a-z0-9_]\{1,\}\)".*/\1 \2/p')
from_table=$(echo "$table" | while read -r kind inst; do
  type=$(echo "$kinds" | sed -n "s/^$kind=//p")
  [ -n "$type" ] && echo "$type-$inst"
done | sort -u)
idents=$(grep '^| ' "$top_srcdir/README.md" | grep -o '`[a-z_]*-[a-z0-9_]*`' |
  tr -d '`' | sort -u)
types=$(grep -o '^dsmr_[a-z_]*' "$top_srcdir/types/dsmr.db")
missing=
count=0
n_table=$(echo "$from_table" | grep -c .)
for i in $from_table $idents $types threshold silence connection power_failure \
  text_message meter_replaced; do
  count=$((count + 1))
  grep -q -F -e "$i" "$pod" || missing="$missing $i"
done
diag "identifiers from the OBIS table: $n_table"
if [ "$n_table" -gt 60 ] && [ -z "$missing" ]; then
  ok "the man page names every identifier, type and notification ($count)"
else
  not_ok "the man page names every identifier, type and notification ($count); missing:$missing"
fi

# --- uninstall -------------------------------------------------------------
if $MAKE -C "$top_builddir" uninstall DESTDIR="$dest" >"$tmp/uninstall.log" 2>&1; then
  ok "make uninstall DESTDIR=... succeeds"
else
  not_ok "make uninstall DESTDIR=... succeeds"
  diag "$(tail -n 20 "$tmp/uninstall.log")"
fi
left=$(find "$dest" ! -type d 2>/dev/null)
if [ -z "$left" ]; then
  ok "make uninstall leaves no files"
else
  not_ok "make uninstall leaves no files"
  diag "$left"
fi

tap_done
