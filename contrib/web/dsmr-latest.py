#!/usr/bin/env python3
"""Write the latest readings of one meter as JSON, for contrib/web/index.html
(next to the PNGs of tools/dsmr-graphs.sh):

    dsmr-latest.py RRD_DIR OUT_DIR      # writes OUT_DIR/latest.json

RRD_DIR is collectd's DataDir/<host>/dsmr-<meter>. Each reading is the last
value collectd's rrdtool plugin fed to its file (`rrdtool lastupdate`: for
registers, the meter's reading itself, not a rate) with its time. "today"
holds the energy imported and exported and the gas used since local
midnight (set TZ if the machine's zone is not the meter's), as rrdtool
computes them from the stored rates (see README.md).
The file is replaced atomically, so a page never reads half of it."""
import glob
import json
import os
import re
import subprocess
import sys
import time

UNITS = {"dsmr_energy": "Wh", "dsmr_reactive_energy": "varh",
         "dsmr_volume": "L", "dsmr_heat": "MJ", "power": "W",
         "dsmr_apparent_power": "VA", "dsmr_reactive_power": "var",
         "voltage": "V", "current": "A", "frequency": "Hz", "dsmr_age": "s"}


def rrdtool(*args):
    return subprocess.run(["rrdtool"] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, check=True,
                          timeout=30).stdout.decode()


def lastupdate(path):
    """(time, value) of the last update, or None."""
    for line in rrdtool("lastupdate", path).splitlines():
        m = re.match(r"\s*(\d+):\s+(\S+)", line)
        if m and not m.group(2).lower().endswith("nan") and m.group(2) != "U":
            return int(m.group(1)), float(m.group(2))
    return None


def today(rrd_dir, files, scale):
    """The sum since midnight of rate x seconds over `files` (VDEF TOTAL; 8640
    pixels so that rrdtool does not average rows together), / scale."""
    files = [f for f in files if os.path.isfile(os.path.join(rrd_dir, f))]
    if not files:
        return None
    args = ["graph", "/dev/null", "--width", "8640", "--start", "midnight",
            "--end", "now"]
    names = []
    for i, f in enumerate(files):
        args.append("DEF:v%d=%s:value:AVERAGE" % (i, os.path.join(rrd_dir, f)))
        names.append("v%d" % i)
    rpn = names[0] + "".join(",%s,ADDNAN" % n for n in names[1:])
    args += ["CDEF:sum=%s,%g,/" % (rpn, scale), "VDEF:total=sum,TOTAL",
             "PRINT:total:%.3lf"]
    out = rrdtool(*args).split()
    try:
        v = float(out[-1])
    except (IndexError, ValueError):
        return None
    return None if v != v else v


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: dsmr-latest.py RRD_DIR OUT_DIR\n")
        return 2
    rrd_dir, out_dir = argv[1], argv[2]
    os.makedirs(out_dir, exist_ok=True)
    readings = {}
    for path in sorted(glob.glob(os.path.join(rrd_dir, "*.rrd"))):
        ident = os.path.basename(path)[:-4]
        lu = lastupdate(path)
        if lu is None:
            continue
        typ = ident.split("-", 1)[0]
        readings[ident] = {"time": lu[0], "value": lu[1],
                           "unit": UNITS.get(typ, "")}
    meter_dir = os.path.basename(os.path.normpath(rrd_dir))
    energy = sorted(os.path.basename(p) for p in
                    glob.glob(os.path.join(rrd_dir, "dsmr_energy-*.rrd")))

    def registers(direction):
        tariffs = [f for f in energy
                   if re.match(r"dsmr_energy-%s_t\d\.rrd$" % direction, f)]
        return tariffs or ["dsmr_energy-%s.rrd" % direction]
    doc = {
        "host": os.path.basename(os.path.dirname(os.path.normpath(rrd_dir))),
        "meter": meter_dir[5:] if meter_dir.startswith("dsmr-") else meter_dir,
        "generated": int(time.time()),
        "today": {
            "energy_import_kwh": today(rrd_dir, registers("import"), 1000),
            "energy_export_kwh": today(rrd_dir, registers("export"), 1000),
            "gas_m3": today(rrd_dir, ["dsmr_volume-gas.rrd"], 1000),
        },
        "readings": readings,
    }
    tmp = os.path.join(out_dir, ".latest.json.tmp")
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
    os.replace(tmp, os.path.join(out_dir, "latest.json"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
