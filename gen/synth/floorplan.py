"""A floorplan for nextpnr: each layer's block RAMs on neighbouring sites, in stream order.

Left to itself, nextpnr puts a layer's block RAMs on whichever sites are free, across the
die when a plan uses most of them, and the placer pulls the layer's logic after them.
Pinned in stream order, each layer becomes a patch beside the previous one (docs/planning.md,
"A floorplan for a big device").

The sites snake across the die in bands of two rows of block RAMs: the first band left to
right, the next right to left, column by column (both rows of a column, then the next
column). Each RAM cell gets nextpnr's `BEL` attribute, which nextpnr binds before it
places the rest, as it would an LPF LOCATE.
"""

from __future__ import annotations

import re

from gen.common.devices import Device

# The ECP5 block RAM primitives yosys maps to (true dual-port and pseudo dual-port): both
# take one EBR site.
BLOCK_RAMS = ("DP16KD", "PDPW16KD")


def ebr_sites(device: Device) -> list[str]:
    """The device's block RAM sites (nextpnr bel names) in floorplan order, or [] when the
    device's site grid is not known."""
    rows, columns = device.ebr_rows, device.ebr_columns
    order = []
    for band, top in enumerate(range(0, len(rows), 2)):
        cols = list(enumerate(columns))
        if band % 2:                     # every other band right to left
            cols.reverse()
        order += [f"X{x}/Y{y}/EBR{k % 4}" for k, x in cols for y in rows[top:top + 2]]
    return order


def _natural(name: str) -> list:
    """A name's sort key with its numbers as numbers (weights_9 before weights_10)."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


# The block RAM that holds the low bits of an engine's weight word (its first memory slice,
# hw.folded.memory): the fields every lane's logic and the handshake read (the chunk ids,
# a dense engine's pixel-end flag: hw.folded.word, hw.dense.word).
CONTROL_RAM = re.compile(r"\.engine\.weights(_0)?\.0\.0$")


def site_xy(site: str) -> tuple[int, int]:
    """A site's tile column and row (`X<x>/Y<y>/EBR<k>`)."""
    x, y, _ = site.split("/")
    return int(x[1:]), int(y[1:])


def _centre_control_ram(placed: dict[str, str], cells: list[str]) -> None:
    """Swap a layer's control RAM (CONTROL_RAM) onto the layer's site nearest the centre of
    its sites, where the logic that reads it is: in name order it would sit at one end of
    the layer's patch (CNV's conv5: 35 rows of RAMs from its lanes' logic)."""
    control = [c for c in cells if CONTROL_RAM.search(c)]
    if len(control) != 1 or len(cells) < 3:
        return
    points = [site_xy(placed[c]) for c in cells]
    cx = sum(x for x, _ in points) / len(points)
    cy = sum(y for _, y in points) / len(points)
    centre = cells[min(range(len(cells)),       # (the first in name order among equals)
                       key=lambda k: abs(points[k][0] - cx) + abs(points[k][1] - cy))]
    placed[control[0]], placed[centre] = placed[centre], placed[control[0]]


def pin_block_rams(netlist: dict, layers: list[str], device: Device,
                   prefix: str = "core.") -> dict[str, str]:
    """Bind every block RAM of `netlist` (yosys's JSON; its top module changed in place) to a
    site: those of layer `layers[k]` (cells named `<prefix><layer>.`...) after those of
    layers[:k], each layer's in natural name order (a lane's or a memory slice's RAMs
    together) but for its control RAM, swapped to the centre (_centre_control_ram), then
    those of no layer. Returns cell -> site; {} with the netlist unchanged
    when the device's sites are not known (ebr_sites) or fewer than the RAMs."""
    mods = list(netlist["modules"].values())
    tops = [m for m in mods if "top" in m.get("attributes", {})]
    mod = tops[0] if tops else max(mods, key=lambda m: len(m.get("cells", {})))
    rams = [n for n, c in mod.get("cells", {}).items() if c["type"] in BLOCK_RAMS]
    sites = ebr_sites(device)
    if not sites or len(rams) > len(sites):
        return {}
    rank = {name: k for k, name in enumerate(layers)}

    def key(cell: str):
        layer = cell[len(prefix):].split(".", 1)[0] if cell.startswith(prefix) else None
        return rank.get(layer, len(layers)), _natural(cell)

    ordered = sorted(rams, key=key)
    placed = dict(zip(ordered, sites))
    for layer in layers:
        _centre_control_ram(placed, [c for c in ordered if key(c)[0] == rank[layer]])
    for cell, site in placed.items():
        mod["cells"][cell]["attributes"]["BEL"] = site
    return placed
