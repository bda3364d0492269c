"""The devices bnngen plans for and places and routes on: each part's LUT, flip-flop,
block RAM and I/O budget and nextpnr's arguments."""

from __future__ import annotations

from dataclasses import dataclass, replace

from models.errors import UserError


@dataclass(frozen=True)
class Device:
    """A part's budget: LUTs (LUT4s; Xilinx LUT6s), flip-flops, block RAMs in the units the
    reports count (iCE40 SB_RAM40_4K, ECP5 DP16KD, Gowin BSRAM, Xilinx RAMB18: a RAMB36 is
    two); for place and route (gen/synth/fmax.py), nextpnr's arguments and the package's pins.
    A speed grade other than the part's slowest is a device of its own (`find_device`)."""

    name: str
    family: str
    lut: int
    bram: int
    ff: int = 0
    pnr: tuple[str, ...] = ()     # nextpnr's device/package arguments (gen/synth/fmax.py)
    pins: tuple[str, ...] = ()    # Gowin: package pins free for I/O (nextpnr needs each placed)
    io: int = 0                   # user I/O pins of the package
    clock_pin: str = ""           # ECP5: a primary clock input of the package (nextpnr
    # may fail to route a clock that enters anywhere else to the global network)
    # ECP5: the block RAM sites' rows (Y) and columns (X), for a floorplan
    # (gen/synth/floorplan.py): nextpnr's bel X<x>/Y<y>/EBR<k % 4> for the k-th column, the
    # RAMs coming in groups of four (the chip database's MIB_EBR0/2/4/6 tiles)
    ebr_rows: tuple[int, ...] = ()
    ebr_columns: tuple[int, ...] = ()
    # nextpnr's speed grades of the part, the first (the slowest, nextpnr's default) the
    # one this entry stands for; "<name>-<grade>" names another (ECP5: LFE5U-85F-8 is
    # "ecp5-85f-8"), a device with no grades of its own
    grades: tuple[str, ...] = ()


# GW1NR-LV9QN88P (Tang Nano 9K): the package's I/O pins without a configuration function
# (JTAG, MODE, SSPI/MSPI), from Apycula 0.32's GW1N-9C pinout; the first, 52 (GCLKT_3), is
# a global clock input (the board's 27 MHz oscillator).
GW1NR9_QN88P_PINS = tuple(str(p) for p in (
    52, 10, 35, 36, 51, 3, 11, 13, 14, 15, 16, 17, 18, 19, 20, 25, 26, 27, 28, 29, 30, 31, 32,
    33, 34, 37, 38, 39, 40, 41, 42, 47, 48, 49, 50, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 79,
    80, 81, 82, 83, 84, 85, 86))

ECP5_GRADES = ("6", "7", "8")


DEVICES = {d.name: d for d in (
    Device("ice40-up5k", "ice40", 5280, 30, 5280, ("--up5k", "--package", "sg48"), io=39),
    Device("ice40-hx8k", "ice40", 7680, 32, 7680, ("--hx8k", "--package", "ct256"), io=206),
    # ECP5 clocks: P6 (Colorlight 5A-75B's oscillator), G2 (ULX3S's), both PCLK inputs
    Device("ecp5-25f", "ecp5", 24288, 56, 24288, ("--25k", "--package", "CABGA256"), io=197,
           clock_pin="P6", grades=ECP5_GRADES),
    Device("ecp5-85f", "ecp5", 83640, 208, 83640, ("--85k", "--package", "CABGA381"), io=205,
           clock_pin="G2", ebr_rows=(22, 46, 70, 82), ebr_columns=(
               4, 6, 8, 10, 13, 15, 17, 19, 22, 24, 26, 28, 31, 33, 35, 37, 40, 42, 44, 46,
               49, 51, 53, 55, 58, 60, 62, 64, 69, 71, 73, 75, 78, 80, 82, 84, 87, 89, 91, 93,
               96, 98, 100, 102, 105, 107, 109, 111, 114, 116, 118, 120),
           grades=ECP5_GRADES),
    Device("gowin-gw1nr9", "gowin", 8640, 26, 6480,
           ("--device", "GW1NR-LV9QN88PC6/I5", "--vopt", "family=GW1N-9C"),
           GW1NR9_QN88P_PINS, len(GW1NR9_QN88P_PINS)),
    # Zynq-7000: Pynq-Z1/Z2 (xc7z020, 140 RAMB36) and ZC706 (xc7z045, 545 RAMB36)
    Device("xc7z020", "xilinx", 53200, 280, 106400),
    Device("xc7z045", "xilinx", 218600, 1090, 437200),
)}


ALIASES = {"up5k": "ice40-up5k", "hx8k": "ice40-hx8k", "25f": "ecp5-25f", "85f": "ecp5-85f",
           "lfe5u-25f": "ecp5-25f", "lfe5u-85f": "ecp5-85f", "ice40up5k": "ice40-up5k",
           "ice40hx8k": "ice40-hx8k", "ecp5-85": "ecp5-85f", "ecp5-25": "ecp5-25f",
           "z7020": "xc7z020", "z7045": "xc7z045", "pynq-z1": "xc7z020", "pynq-z2": "xc7z020",
           "zc706": "xc7z045",
           "gw1nr9": "gowin-gw1nr9", "gw1nr-9": "gowin-gw1nr9", "tangnano9k": "gowin-gw1nr9"}


def find_device(name: str) -> Device:
    """The table's device `name` (or an alias), or one of its faster speed grades."""
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key in DEVICES:
        return DEVICES[key]
    base, _, grade = key.rpartition("-")
    dev = DEVICES.get(ALIASES.get(base, base))
    if dev is None or not dev.grades:
        raise UserError(f"unknown device {name!r}: choose from {', '.join(DEVICES)} (an ECP5 "
                        f"with a speed grade: ecp5-85f-8)")
    if grade not in dev.grades:
        raise UserError(f"device {name!r}: {dev.name} has speed grades "
                        f"{', '.join(dev.grades)}, not {grade!r}")
    if grade == dev.grades[0]:
        return dev
    return replace(dev, name=f"{dev.name}-{grade}", pnr=(*dev.pnr, "--speed", grade),
                   grades=())
