"""AXI4-Lite control port of a network top: status, soft reset, run-time thresholds.

Register map (32-bit registers, byte offsets; `REGISTERS` and `register_map` give it to
the manifest and the C header):

    0x00 ID              RO  0x424E4E01 ("BNN", version 1)
    0x04 CONTROL         WO  bit 0: soft reset (reads 0): one cycle of reset of the data
                             path (layers, framing counter, thresholds back to the
                             description's); the control registers keep their values
    0x08 FRAMES_DONE     RO  results transferred on m_axis since aresetn (wraps)
    0x0C FRAMING_ERRORS  RO  the framing_errors counter
    0x10 LAST_CLASS      RO  class of the last result transferred
    0x14 + 4*o           RO  score o of that result, sign-extended
    0x100 + 4*k          RW  threshold k = c*T + t of the thermometer encoder (only with
                             run-time thresholds): a write takes effect on the next pixel

One transaction at a time on each of the write and read sides; responses are OKAY, also
for an address that holds nothing (reads give 0, writes are ignored).
"""

from __future__ import annotations

from amaranth import Module, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

ID_VALUE = 0x424E4E01
ADDR_BITS = 12
THRESHOLD_BASE = 0x100


def register_map(classes: int, thresholds: int) -> list[tuple[str, int, str]]:
    """(name, byte offset, access) of every register."""
    regs = [("ID", 0x00, "RO"), ("CONTROL", 0x04, "WO"), ("FRAMES_DONE", 0x08, "RO"),
            ("FRAMING_ERRORS", 0x0C, "RO"), ("LAST_CLASS", 0x10, "RO")]
    regs += [(f"LAST_SCORE_{o}", 0x14 + 4 * o, "RO") for o in range(classes)]
    regs += [(f"THRESHOLD_{k}", THRESHOLD_BASE + 4 * k, "RW") for k in range(thresholds)]
    return regs


def axil_members() -> dict:
    return {"s_axil_awaddr": In(ADDR_BITS), "s_axil_awvalid": In(1), "s_axil_awready": Out(1),
            "s_axil_wdata": In(32), "s_axil_wstrb": In(4), "s_axil_wvalid": In(1),
            "s_axil_wready": Out(1), "s_axil_bresp": Out(2), "s_axil_bvalid": Out(1),
            "s_axil_bready": In(1), "s_axil_araddr": In(ADDR_BITS), "s_axil_arvalid": In(1),
            "s_axil_arready": Out(1), "s_axil_rdata": Out(32), "s_axil_rresp": Out(2),
            "s_axil_rvalid": Out(1), "s_axil_rready": In(1)}


class Control(wiring.Component):
    """The register block (runs in the domain of aresetn alone, not of the soft reset).

    Parameters
    ----------
    classes, score_bits : the result's class count and score width.
    thresholds : initial thermometer thresholds (k = c*T + t), empty without run-time ones.
    sample_bits : the thresholds' width.

    Attributes
    ----------
    s_axil_* : the AXI4-Lite slave.
    soft_reset : one-cycle pulse on a write of 1 to CONTROL bit 0.
    result_fire, result_cls, result_scores : a result transferred on m_axis, and its fields.
    errors : the framing error counter.
    cfg_valid, cfg_addr, cfg_data : a threshold write for the encoder's `cfg` port.
    """

    def __init__(self, classes: int, score_bits: int, cls_bits: int, errors_bits: int,
                 thresholds: list[int], sample_bits: int):
        if 0x14 + 4 * classes > THRESHOLD_BASE:
            raise ValueError(f"the control port's register map holds {(THRESHOLD_BASE - 0x14) // 4}"
                             f" scores, not {classes}")
        if THRESHOLD_BASE + 4 * len(thresholds) > 1 << ADDR_BITS:
            raise ValueError(f"the control port's register map holds "
                             f"{((1 << ADDR_BITS) - THRESHOLD_BASE) // 4} thresholds, not "
                             f"{len(thresholds)}")
        self.classes, self.score_bits = classes, score_bits
        self.init = list(thresholds)
        members = axil_members()
        members.update({"soft_reset": Out(1), "result_fire": In(1), "result_cls": In(cls_bits),
                        "result_scores": In(classes * score_bits), "errors": In(errors_bits)})
        if self.init:
            members.update({"cfg_valid": Out(1),
                            "cfg_addr": Out(max(1, (len(self.init) - 1).bit_length())),
                            "cfg_data": Out(sample_bits)})
        self.sample_bits = sample_bits
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        frames = Signal(32)
        last_cls = Signal(32)
        last_scores = [Signal(signed(self.score_bits), name=f"last_score_{o}")
                       for o in range(self.classes)]
        shadow = [Signal(self.sample_bits, init=v, name=f"threshold_{k}")
                  for k, v in enumerate(self.init)]

        with m.If(self.result_fire):
            m.d.sync += [frames.eq(frames + 1), last_cls.eq(self.result_cls)]
            sw = self.score_bits
            m.d.sync += [reg.eq(self.result_scores[o * sw:(o + 1) * sw])
                         for o, reg in enumerate(last_scores)]

        # Write side: address and data together, then the response.
        bvalid = Signal()
        write = Signal()
        m.d.comb += [write.eq(self.s_axil_awvalid & self.s_axil_wvalid & ~bvalid),
                     self.s_axil_awready.eq(write), self.s_axil_wready.eq(write),
                     self.s_axil_bvalid.eq(bvalid), self.s_axil_bresp.eq(0)]
        with m.If(write):
            m.d.sync += bvalid.eq(1)
        with m.Elif(self.s_axil_bready):
            m.d.sync += bvalid.eq(0)
        waddr = self.s_axil_awaddr[2:]
        soft = Signal()
        m.d.sync += soft.eq(write & (waddr == 0x04 >> 2) & self.s_axil_wdata[0])
        m.d.comb += self.soft_reset.eq(soft)
        if self.init:
            k = waddr - (THRESHOLD_BASE >> 2)
            hit = write & (waddr >= THRESHOLD_BASE >> 2) & (k < len(self.init))
            m.d.comb += [self.cfg_valid.eq(hit), self.cfg_addr.eq(k),
                         self.cfg_data.eq(self.s_axil_wdata)]
            with m.If(soft):          # the encoder's thresholds are reset with the data path
                m.d.sync += [reg.eq(v) for reg, v in zip(shadow, self.init)]
            with m.Elif(hit):
                with m.Switch(k):
                    for n, reg in enumerate(shadow):
                        with m.Case(n):
                            m.d.sync += reg.eq(self.s_axil_wdata)

        # Read side: the register is latched when the address is taken.
        rvalid = Signal()
        rdata = Signal(32)
        read = Signal()
        m.d.comb += [read.eq(self.s_axil_arvalid & ~rvalid), self.s_axil_arready.eq(read),
                     self.s_axil_rvalid.eq(rvalid), self.s_axil_rdata.eq(rdata),
                     self.s_axil_rresp.eq(0)]
        with m.If(read):
            m.d.sync += rvalid.eq(1)
            with m.Switch(self.s_axil_araddr[2:]):
                with m.Case(0x00 >> 2):
                    m.d.sync += rdata.eq(ID_VALUE)
                with m.Case(0x08 >> 2):
                    m.d.sync += rdata.eq(frames)
                with m.Case(0x0C >> 2):
                    m.d.sync += rdata.eq(self.errors)
                with m.Case(0x10 >> 2):
                    m.d.sync += rdata.eq(last_cls)
                for o, reg in enumerate(last_scores):
                    with m.Case((0x14 >> 2) + o):
                        m.d.sync += rdata.eq(reg)
                for n, reg in enumerate(shadow):
                    with m.Case((THRESHOLD_BASE >> 2) + n):
                        m.d.sync += rdata.eq(reg)
                with m.Default():
                    m.d.sync += rdata.eq(0)
        with m.Elif(self.s_axil_rready):
            m.d.sync += rvalid.eq(0)
        return m


def c_header(top: str, classes: int, thresholds: int) -> str:
    """Register offsets as a C header."""
    guard = f"{top.upper()}_REGS_H"
    lines = [f"/* bnngen: AXI4-Lite registers of {top} (byte offsets; hw/control.py) */",
             f"#ifndef {guard}", f"#define {guard}", "",
             f"#define {top.upper()}_ID_VALUE 0x{ID_VALUE:08X}u",
             f"#define {top.upper()}_CLASSES {classes}u",
             f"#define {top.upper()}_THRESHOLDS {thresholds}u"]
    for name, offset, access in register_map(classes, thresholds):
        lines.append(f"#define {top.upper()}_{name} 0x{offset:03X}u  /* {access} */")
    lines += [f"#define {top.upper()}_LAST_SCORE(o) (0x014u + 4u * (o))",
              f"#define {top.upper()}_THRESHOLD(k) (0x{THRESHOLD_BASE:03X}u + 4u * (k))",
              f"#define {top.upper()}_CONTROL_SOFT_RESET 0x1u", "", f"#endif /* {guard} */", ""]
    return "\n".join(lines)
