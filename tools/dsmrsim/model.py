"""The simulated installation: a household behind a 3-phase meter, with solar
panels on L1 and a gas meter on M-Bus channel 1.

Exactness is the point, so everything that ends up in a register is an
integer: power in W, energy in mJ (W x ms; 1 Wh = 3 600 000 mJ), voltage in dV,
gas in litres.  The power shown in a telegram is the average over the interval
that ends at that telegram's time, and exactly power x interval is added to
the registers of the tariff in force at that time; a register shows
floor(accumulator / 1 Wh).  Hence, for any two telegrams a < b:

    |(E_b - E_a) [Wh] - sum_{a<i<=b} P_i [W] * dt_i [s] / 3600| < 1 Wh

Import and export are never both non-zero (totals are the net over the three
phases), registers only grow, and the gas register advances only at capture
boundaries (every 5 minutes for DSMR 5, hourly for DSMR 4 / 2.2) with the
capture time on the boundary.
"""

import math

from . import clock

MJ_PER_WH = 3_600_000

# name, watts, phase (0..2 or None = all three), min s, max s, starts per hour
# at activity 1.0, follows household activity
_APPLIANCES = (
    ("kettle", 2000, 0, 90, 240, 0.6, True),
    ("microwave", 900, 1, 60, 420, 0.4, True),
    ("oven", 2300, 2, 1500, 3600, 0.08, True),
    ("washer", 700, 1, 3600, 7200, 0.06, True),
    ("dishwasher", 1100, 2, 3600, 5400, 0.06, True),
    ("tv", 140, 0, 3600, 10800, 0.25, True),
    ("vacuum", 1400, 0, 300, 1200, 0.05, True),
    ("ev", 3680, None, 3600, 10800, 0.015, False),  # 11 kW three-phase charger
)


def _activity(local):
    """How busy the household is at a local wall-clock time (0.15 .. 1.3)."""
    hour = local.hour
    weekend = local.weekday() >= 5
    if hour < 7:
        return 0.15
    if hour < 9:
        return 1.0
    if hour < 17:
        return 0.8 if weekend else 0.45
    if hour < 23:
        return 1.3
    return 0.5


def tariff_at(unix):
    """DSMR tariff indicator: 1 = low (23:00-07:00 local and weekends), 2 = normal."""
    local = clock.local_time(unix)
    if local.weekday() >= 5 or local.hour >= 23 or local.hour < 7:
        return 1
    return 2


def _season(unix):
    """Day-of-year phase: +1 around the summer solstice, -1 around the winter one."""
    doy = clock.local_time(unix).timetuple().tm_yday
    return math.sin(2 * math.pi * (doy - 80) / 365.25)


class MeterModel:
    """State of one simulated installation.  `rng` is a random.Random used for
    this meter only, so meters are independent and reproducible."""

    def __init__(self, rng, start_ms, *, power_step_w=1, gas_period_s=300, solar=True):
        self.rng = rng
        self.t_ms = start_ms
        self.power_step_w = power_step_w
        self.first = True

        # Registers, in mJ.  Start somewhere plausible and not on a Wh boundary.
        def kwh(lo, hi):
            return rng.randint(lo * 1000, hi * 1000) * MJ_PER_WH + rng.randrange(MJ_PER_WH)

        self.energy = {
            "1.8.1": kwh(800, 9000),
            "1.8.2": kwh(800, 9000),
            "2.8.1": kwh(0, 3000) if solar else 0,
            "2.8.2": kwh(0, 3000) if solar else 0,
        }
        self.reactive = {"3.8.0": kwh(10, 900), "4.8.0": kwh(10, 900)}

        self.base_w = [rng.randint(50, 130), rng.randint(30, 70), rng.randint(30, 70)]
        self.fridge_phase = rng.random()
        self.solar_wp = rng.randint(2800, 5500) if solar else 0
        self.cloud = rng.uniform(0.4, 1.0)
        self.running = {}  # appliance name -> end time (ms)
        self.v_base = [rng.randint(2280, 2340) for _ in range(3)]  # dV

        self.failures_short = rng.randint(3, 25)
        self.failures_long = rng.randint(0, 6)
        # Power failure log: the last (at most 10) long failures, oldest first,
        # as (end time unix, duration s), all before the start.
        start = start_ms // 1000
        log = []
        t = start - rng.randint(3 * 86400, 40 * 86400)
        for _ in range(min(self.failures_long, 10)):
            log.append((t, rng.choice((rng.randint(180, 900), rng.randint(900, 20000)))))
            t -= rng.randint(5 * 86400, 90 * 86400)
        self.failure_log = sorted(log)
        self.sags = [rng.randint(0, 9) for _ in range(3)]
        self.swells = [rng.randint(0, 3) for _ in range(3)]

        self.gas_period_s = gas_period_s
        self.gas_time = start - start % gas_period_s
        self.gas_litres = rng.randint(400_000, 4_000_000)

        # Filled by step()
        self.power = None

    # -- power ---------------------------------------------------------------
    def _update_appliances(self, t_ms, dt_s, activity):
        rng = self.rng
        for name, end in list(self.running.items()):
            if end <= t_ms:
                del self.running[name]
        for name, _w, _ph, lo, hi, per_hour, follows in _APPLIANCES:
            if name in self.running or dt_s <= 0:
                continue
            rate = per_hour / 3600.0 * (activity if follows else 1.0)
            if rng.random() < 1.0 - math.exp(-rate * dt_s):
                self.running[name] = t_ms + rng.randint(lo, hi) * 1000

    def _consumption(self, t_ms):
        rng = self.rng
        phases = [float(w) for w in self.base_w]
        # Fridge: compressor on 35 % of a 40-minute cycle.
        if ((t_ms / 2_400_000.0) + self.fridge_phase) % 1.0 < 0.35:
            phases[1] += 85
        for name, watts, phase, *_ in _APPLIANCES:
            if name in self.running:
                if phase is None:
                    for i in range(3):
                        phases[i] += watts
                else:
                    phases[phase] += watts
        return [w * rng.uniform(0.97, 1.03) for w in phases]

    def _solar(self, unix, dt_s):
        if not self.solar_wp:
            return 0.0
        rng = self.rng
        # Cloudiness: a mean-reverting random walk in [0.1, 1].
        if dt_s > 0:
            step = rng.gauss(0.0, 0.03 * math.sqrt(min(dt_s, 3600.0)))
            self.cloud += step + 0.02 * (0.7 - self.cloud) * min(dt_s, 50.0) / 50.0
            self.cloud = min(1.0, max(0.1, self.cloud))
        season = _season(unix)
        day_hours = 12.2 + 4.3 * season
        noon_utc = 11.67  # solar noon in the Netherlands, hours UTC
        hour = (unix % 86400) / 3600.0
        rise = noon_utc - day_hours / 2
        if not rise < hour < rise + day_hours:
            return 0.0
        shape = math.sin(math.pi * (hour - rise) / day_hours) ** 1.3
        peak = 0.55 + 0.35 * season
        return self.solar_wp * shape * peak * self.cloud

    # -- one telegram ---------------------------------------------------------
    def step(self, t_ms, unique=False):
        """Advance to meter time `t_ms` (ms since the epoch, never backwards) and
        return a snapshot dict of everything a telegram shows."""
        if t_ms < self.t_ms:
            raise ValueError("meter time went backwards")
        dt_ms = t_ms - self.t_ms
        dt_s = dt_ms / 1000.0
        unix = t_ms // 1000
        local = clock.local_time(unix)

        self._update_appliances(t_ms, dt_s, _activity(local))
        cons = self._consumption(t_ms)
        solar = self._solar(unix, dt_s)
        step_w = self.power_step_w
        net = []
        for i in range(3):
            w = cons[i] - (solar if i == 0 else 0.0)
            net.append(int(round(w / step_w)) * step_w)
        imp = [max(w, 0) for w in net]
        exp = [max(-w, 0) for w in net]
        total = sum(net)
        p_imp, p_exp = max(total, 0), max(-total, 0)

        tariff = tariff_at(unix)
        before = {k: v // MJ_PER_WH for k, v in self.energy.items()}
        before_q = {k: v // MJ_PER_WH for k, v in self.reactive.items()}
        self.energy["1.8.%d" % tariff] += p_imp * dt_ms
        self.energy["2.8.%d" % tariff] += p_exp * dt_ms
        q_imp = p_imp // 10  # a small, plausible reactive share
        q_exp = p_exp // 8
        self.reactive["3.8.0"] += q_imp * dt_ms
        self.reactive["4.8.0"] += q_exp * dt_ms
        if unique and not self.first:
            # Soak tests want every telegram distinguishable by any energy
            # register, so bump each one that did not move by itself to its
            # next whole Wh.  This trades the power x time identity for
            # uniqueness, which is why it is an option.
            for regs, old in ((self.energy, before), (self.reactive, before_q)):
                for k in regs:
                    if regs[k] // MJ_PER_WH <= old[k]:
                        regs[k] = (old[k] + 1) * MJ_PER_WH
        self.first = False

        # Voltage: slow random walk per phase, a drop under load and a rise
        # when the phase exports (solar).
        rng = self.rng
        volts = []
        for i in range(3):
            if dt_s > 0:
                self.v_base[i] += rng.choice((-1, 0, 0, 1)) + (2310 - self.v_base[i]) // 40
            v = self.v_base[i] - imp[i] * 8 // 1000 + exp[i] * 12 // 1000
            volts.append(min(2530, max(2070, v)))
        amps = [int(round(abs(net[i]) * 10.0 / volts[i])) for i in range(3)]
        amps_ma = [int(round(abs(net[i]) * 10000.0 / volts[i])) for i in range(3)]  # HAN meters: mA

        if dt_s > 0 and rng.random() < 1.0 - math.exp(-dt_s / (40 * 3600.0)):
            self.sags[rng.randrange(3)] += 1
        if dt_s > 0 and rng.random() < 1.0 - math.exp(-dt_s / (200 * 3600.0)):
            self.swells[rng.randrange(3)] += 1

        self._advance_gas(unix)
        self.t_ms = t_ms
        self.power = {"import": p_imp, "export": p_exp}
        return {
            "t_ms": t_ms,
            "unix": unix,
            "tariff": tariff,
            "energy_wh": {k: v // MJ_PER_WH for k, v in self.energy.items()},
            "reactive_varh": {k: v // MJ_PER_WH for k, v in self.reactive.items()},
            "power_w": (p_imp, p_exp),
            "reactive_var": (q_imp, q_exp),
            "phase_import_w": imp,
            "phase_export_w": exp,
            "voltage_dv": volts,
            "current_a": amps,
            "current_ma": amps_ma,
            "failures": (self.failures_short, self.failures_long),
            "failure_log": list(self.failure_log),
            "sags": list(self.sags),
            "swells": list(self.swells),
            "gas": (self.gas_time, self.gas_litres),
        }

    # -- gas ------------------------------------------------------------------
    def _gas_rate_lph(self, unix):
        """Litres per hour: heating (seasonal, by time of day) plus a base."""
        hour = clock.local_time(unix).hour
        heating = max(0.0, -_season(unix) * 0.8 + 0.35)
        if hour < 6:
            hf = 0.3
        elif hour < 10:
            hf = 1.2
        elif hour < 17:
            hf = 0.6
        elif hour < 23:
            hf = 1.0
        else:
            hf = 0.5
        return 25.0 + 1100.0 * heating * hf

    def _advance_gas(self, unix):
        period = self.gas_period_s
        target = unix - unix % period
        steps = (target - self.gas_time) // period
        if steps <= 0:
            return
        rng = self.rng
        if steps > 5000:
            # A long jump of the meter clock: one bulk step at an average rate,
            # instead of millions of small ones.
            bulk = steps - 5000
            self.gas_litres += int(self._gas_rate_lph(self.gas_time) * bulk * period / 3600.0)
            self.gas_time += bulk * period
            steps = 5000
        for _ in range(steps):
            self.gas_time += period
            rate = self._gas_rate_lph(self.gas_time)
            if rng.random() < 0.1:
                rate += 600.0  # a shower
            self.gas_litres += int(rate * period / 3600.0 * rng.uniform(0.6, 1.4))
