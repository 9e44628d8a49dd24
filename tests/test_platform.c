/* What the build assumes of the platform, checked on every architecture it
 * is built on (tools/foreign-arch-test.sh runs this on armhf, arm64 and
 * s390x too).
 *
 * Found on armhf (32-bit): without large-file support, stat() and
 * readdir() fail with EOVERFLOW when an inode number or a directory's
 * hash cookie does not fit 32 bits, as on a 64-bit kernel's ext4 or
 * btrfs. The corpus listing of test_crc16 read 0 files there, and the
 * plugin's check that a device link still names the device it opened
 * (dsmr_source_still_named: stat + fstat) would silently give up. The
 * build defines _FILE_OFFSET_BITS=64 (Makefile.am, AM_CPPFLAGS). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "tap.h"
#include "test_util.h"

int main(void) {
  is_int(sizeof(off_t), 8, "off_t is 64-bit (large-file support)");
  is_int(sizeof(ino_t), 8, "ino_t is 64-bit (stat of any inode)");

  char path[4096];
  snprintf(path, sizeof(path), "%s/tests/corpus/telegrams", srcdir());
  struct stat st;
  ok(stat(path, &st) == 0, "stat %s: %s", path, strerror(errno));

  unsigned n = 0;
  DIR *dir = opendir(path);
  ok(dir != NULL, "opendir %s: %s", path, dir ? "ok" : strerror(errno));
  errno = 0;
  for (struct dirent *de; dir && (de = readdir(dir)) != NULL;)
    n++;
  int e = errno;
  ok(e == 0, "readdir to the end without an error (%s)", strerror(e));
  ok(n > 40, "readdir listed the corpus: %u entries", n);
  if (dir)
    closedir(dir);
  return tap_done();
}
