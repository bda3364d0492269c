"""A self-checking Verilog bench for a build: no Python, no cocotb, for a team's own flow.

    tb/<top>_tb.v       streams the frames of tb/frames.hex into the top (AXI4-Stream,
                        tlast on each frame's last pixel), checks every result beat against
                        tb/expected.hex, prints progress and one verdict line, and exits
                        non-zero on a failure ($fatal)
    tb/frames.hex       one input beat per line (s_axis_tdata), frame after frame
    tb/expected.hex     one result beat per line (m_axis_tdata): the golden model's class
                        and scores, packed as the manifest's `output` says

The bench runs from the build folder with plain `iverilog -g2012` + `vvp` or with
`verilator --binary` (docs/verification.md). Plusargs: `+gap=P` and `+stall=P` (percent of
cycles the source pauses and the sink refuses, drawn from xorshift generators seeded by
`+seed=S`), `+frames=F`, `+expected=F`, `+results=F` (write every result beat there),
`+count=N` (run the first N frames only), `+progress=N` (a line every N results),
`+watchdog=C` (cycles without a result before it gives up). It also checks that
`s_axis_tready` is 0 during reset, that every result carries tlast and that
`framing_errors` stays 0.

The expected words are packed here from the golden model's integers and the manifest's
documented byte layout, not with the hardware's own packing code.
"""

from __future__ import annotations

import numpy as np

VERDICT = "bnngen-tb:"        # every line the bench prints starts with this
DATA_FILES = ("tb/frames.hex", "tb/expected.hex")


def pixel_words(images: np.ndarray, bits: int) -> np.ndarray:
    """(N, H, W, C) samples -> one s_axis_tdata word per pixel, sample c at bits
    [c*B, (c+1)*B); int64 where it fits, else Python integers."""
    flat = images.reshape(-1, images.shape[-1])
    if flat.shape[1] * bits <= 63:
        shifts = np.arange(flat.shape[1], dtype=np.int64) * bits
        return (flat.astype(np.int64) << shifts).sum(axis=1)
    return np.array([sum(int(v) << (c * bits) for c, v in enumerate(row)) for row in flat],
                    dtype=object)


def result_words(output: dict, classes: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Golden classes and scores -> m_axis_tdata words, by the manifest's `output` fields
    (bit offsets and widths); a value that does not fit its field is an error, not wrapped."""
    cls = output["class"]
    words = []
    for c, row in zip(np.asarray(classes).tolist(), np.asarray(scores).tolist()):
        if not 0 <= c < 1 << cls["width"]:
            raise ValueError(f"class {c} does not fit {cls['width']} bits")
        word = c << cls["lsb"]
        for field, s in zip(output["scores"], row):
            half = 1 << (field["width"] - 1)
            if not -half <= s < half:
                raise ValueError(f"score {s} of class {field['class']} does not fit "
                                 f"{field['width']} bits")
            word |= (s % (2 * half)) << field["lsb"]
        words.append(word)
    return np.array(words, dtype=object)


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def hex_text(words: np.ndarray, width: int) -> str:
    """One word per line, `width` bits as fixed-width hex ($readmemh)."""
    digits = max(1, -(-width // 4))
    if words.dtype != object:            # vectorised: millions of pixels
        shifts = np.arange(digits - 1, -1, -1, dtype=np.int64) * 4
        rows = np.empty((len(words), digits + 1), dtype=np.uint8)
        rows[:, :digits] = _HEX[(words[:, None] >> shifts) & 15]
        rows[:, digits] = ord("\n")
        return rows.tobytes().decode()
    return "".join(f"{int(w):0{digits}x}\n" for w in words)


def bench_files(top: str, manifest: dict, images: np.ndarray, classes: np.ndarray,
                scores: np.ndarray) -> dict[str, str]:
    """{relative path: text} of the bench and its two data files."""
    inp = manifest["input"]
    if images.shape[1:] != (inp["height"], inp["width"], inp["channels"]):
        raise ValueError(f"images {list(images.shape[1:])} do not match the build's input "
                         f"{[inp['height'], inp['width'], inp['channels']]}")
    in_width = manifest["ports"]["s_axis_tdata"]["width"]
    out_width = manifest["ports"]["m_axis_tdata"]["width"]
    return {
        f"tb/{top}_tb.v": manifest_bench(top, manifest, len(images)),
        DATA_FILES[0]: hex_text(pixel_words(images, inp["sample_bits"]), in_width),
        DATA_FILES[1]: hex_text(result_words(manifest["output"], classes, scores), out_width),
    }


STREAM_PORTS = {"aclk", "aresetn", "s_axis_tdata", "s_axis_tvalid", "s_axis_tready",
                "s_axis_tlast", "m_axis_tdata", "m_axis_tvalid", "m_axis_tready",
                "m_axis_tlast", "framing_errors"}


def manifest_bench(top: str, manifest: dict, frames: int) -> str:
    """The bench for a build, sized for up to `frames` frames. Inputs beyond the stream's
    (the control port's s_axil_*) are held at 0, its outputs left open."""
    ports = manifest["ports"]
    idle = "".join(f", .{name}({p['width']}'d0)" for name, p in ports.items()
                   if name not in STREAM_PORTS and p["dir"] == "in")
    return bench_verilog(top, manifest["name"], frames, manifest["input"]["frame_pixels"],
                         ports["s_axis_tdata"]["width"], ports["m_axis_tdata"]["width"],
                         manifest["cycles_per_frame"], manifest["latency_cycles"], idle)


def bench_verilog(top: str, model: str, frames: int, pixels: int, in_width: int,
                  out_width: int, ii: int, latency: int, idle_ports: str = "") -> str:
    # No result for this many cycles means the design hangs: a frame needs at most about
    # II + latency cycles, stretched by pauses and stalls (up to 99%, hence x100).
    watchdog = 100 * (4 * ii + 2 * latency + pixels) + 10_000
    return f"""`timescale 1ns/1ps
// bnngen: self-checking bench of {top} ({model}), {frames} frames of {pixels} pixels.
// Run from the build folder (docs/verification.md has faster Verilator flags):
//   (Icarus)    iverilog -g2012 -o tb.vvp tb/{top}_tb.v {top}.v
//               vvp -n tb.vvp [+gap=P] [+stall=P]
//   (Verilator) verilator --binary -Wno-fatal --top-module {top}_tb tb/{top}_tb.v {top}.v
//               obj_dir/V{top}_tb [+gap=P] [+stall=P]
// Plusargs: +gap=P +stall=P (percent, 0-99) +seed=S +frames=F +expected=F +results=F
// +count=N +progress=N +watchdog=C.
// Ends with "{VERDICT} PASS ..." ($finish) or "{VERDICT} FAIL ..." ($fatal: exit code 1).
module {top}_tb;
  localparam integer FRAMES = {frames}, PIXELS = {pixels}, BEATS = FRAMES * PIXELS;
  localparam integer IN_W = {in_width}, OUT_W = {out_width};
  localparam integer II = {ii}, LATENCY = {latency};   // the manifest's, for the report

  reg aclk = 1'b0;
  always #5 aclk = ~aclk;
  reg aresetn = 1'b0;

  reg [IN_W-1:0] frames [0:BEATS-1];
  reg [OUT_W-1:0] expected [0:FRAMES-1];
  reg [8*1024-1:0] frames_file, expected_file, results_file;
  integer gap, stall, progress, results_fd, count;
  reg [31:0] beats, gap_below, stall_below;   // a cycle pauses when its draw is below
  reg [31:0] seed, watchdog, src_rng, snk_rng;

  // source: beat is the index of the beat on s_axis (offered or next)
  reg [31:0] beat = 0, next_beat, pixel = 0;   // pixel: beat's place in its frame
  reg s_valid = 1'b0;
  wire s_ready;
  wire s_last = pixel == PIXELS - 1;
  // sink
  reg m_ready = 1'b0;
  wire m_valid, m_last;
  wire [OUT_W-1:0] m_data;
  wire [15:0] framing_errors;

  {top} dut (
    .aclk(aclk), .aresetn(aresetn),
    .s_axis_tdata(frames[beat < beats ? beat : 0]), .s_axis_tvalid(s_valid),
    .s_axis_tready(s_ready), .s_axis_tlast(s_last),
    .m_axis_tdata(m_data), .m_axis_tvalid(m_valid), .m_axis_tready(m_ready),
    .m_axis_tlast(m_last), .framing_errors(framing_errors){idle_ports});

  function [31:0] xorshift(input [31:0] x);
    reg [31:0] y;
    begin
      y = x ^ (x << 13);
      y = y ^ (y >> 17);
      xorshift = y ^ (y << 5);
    end
  endfunction

  initial begin
    if (!$value$plusargs("frames=%s", frames_file)) frames_file = "tb/frames.hex";
    if (!$value$plusargs("expected=%s", expected_file)) expected_file = "tb/expected.hex";
    if (!$value$plusargs("gap=%d", gap)) gap = 0;
    if (!$value$plusargs("stall=%d", stall)) stall = 0;
    if (!$value$plusargs("seed=%d", seed)) seed = 1;
    if (!$value$plusargs("progress=%d", progress)) progress = 0;
    if (!$value$plusargs("count=%d", count)) count = FRAMES;
    if (!$value$plusargs("watchdog=%d", watchdog)) watchdog = {watchdog};
    results_fd = 0;
    if ($value$plusargs("results=%s", results_file)) results_fd = $fopen(results_file, "w");
    if (gap < 0 || gap > 99 || stall < 0 || stall > 99) begin
      $display("{VERDICT} FAIL: +gap and +stall are percentages from 0 to 99");
      $fatal(1);
    end
    if (count < 1 || count > FRAMES) begin
      $display("{VERDICT} FAIL: +count must lie in 1..%0d", FRAMES);
      $fatal(1);
    end
    beats = count * PIXELS;
    gap_below = gap * 32'd42949672;       // P% of the 2^32 draws
    stall_below = stall * 32'd42949672;
    src_rng = 32'h9e3779b9 ^ seed;
    snk_rng = 32'h7f4a7c15 ^ (seed * 32'd2654435761);
    if (src_rng == 0) src_rng = 1;
    if (snk_rng == 0) snk_rng = 1;
    $readmemh(frames_file, frames);
    $readmemh(expected_file, expected);
  end

  reg [63:0] cycle = 0, first_at = 0, last_at = 0, idle = 0, spacing;
  reg [63:0] min_ii = 64'hffffffffffffffff, max_ii = 0;
  integer got = 0, wrong = 0, fails = 0;

  always @(posedge aclk) begin
    cycle <= cycle + 1;
    src_rng <= xorshift(src_rng);
    snk_rng <= xorshift(snk_rng);
    if (!aresetn) begin
      if (s_ready !== 1'b0) begin
        fails = fails + 1;
        $display("{VERDICT} s_axis_tready is %b during reset", s_ready);
      end
      if (cycle == 3) aresetn <= 1'b1;
    end else begin
      if (!s_valid || s_ready) begin      // AXI: an offered beat stays until taken
        next_beat = beat + (s_valid ? 1 : 0);
        beat <= next_beat;
        if (s_valid) pixel <= s_last ? 0 : pixel + 1;
        s_valid <= next_beat < beats && src_rng >= gap_below;
      end
      m_ready <= snk_rng >= stall_below;
      if (m_valid && m_ready) begin
        if (results_fd != 0) $fwrite(results_fd, "%h\\n", m_data);
        if (got >= count) begin
          fails = fails + 1;
          $display("{VERDICT} a result beyond the %0d frames sent: %h", count, m_data);
        end else if (m_data !== expected[got]) begin
          wrong = wrong + 1;
          if (wrong <= 5)
            $display("{VERDICT} frame %0d: got %h, expected %h", got, m_data, expected[got]);
        end
        if (m_last !== 1'b1) begin
          fails = fails + 1;
          $display("{VERDICT} frame %0d: m_axis_tlast is %b", got, m_last);
        end
        if (got == 0) first_at = cycle;
        else begin
          spacing = cycle - last_at;
          if (spacing < min_ii) min_ii = spacing;
          if (spacing > max_ii) max_ii = spacing;
        end
        last_at = cycle;
        got = got + 1;
        idle <= 0;
        if (progress > 0 && got % progress == 0)
          $display("{VERDICT} progress %0d/%0d frames at cycle %0d", got, count, cycle);
        if (got == count) report;
      end else begin
        idle <= idle + 1;
        if (idle >= watchdog) begin
          $display("{VERDICT} FAIL {top}: no result for %0d cycles after %0d of %0d frames",
                   watchdog, got, count);
          $fatal(1);
        end
      end
    end
  end

  task report;
    begin
      if (framing_errors !== 16'd0) begin
        fails = fails + 1;
        $display("{VERDICT} framing_errors is %0d", framing_errors);
      end
      if (results_fd != 0) $fclose(results_fd);
      $display("{VERDICT} cycles %0d, first result at %0d, result spacing %0d..%0d (II %0d)",
               cycle, first_at, count > 1 ? min_ii : 0, max_ii, II);
      if (wrong == 0 && fails == 0) begin
        $display("{VERDICT} PASS {top}: %0d frames bit-exact (class and every score)", count);
        $finish;
      end else begin
        $display("{VERDICT} FAIL {top}: %0d of %0d frames differ, %0d other failures",
                 wrong, count, fails);
        $fatal(1);
      end
    end
  endtask
endmodule
"""
