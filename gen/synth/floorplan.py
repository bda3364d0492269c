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


def pin_block_rams(netlist: dict, layers: list[str], device: Device,
                   prefix: str = "core.") -> dict[str, str]:
    """Bind every block RAM of `netlist` (yosys's JSON; its top module changed in place) to a
    site: those of layer `layers[k]` (cells named `<prefix><layer>.`...) after those of
    layers[:k], each layer's in natural name order (a lane's or a memory slice's RAMs
    together), then those of no layer. Returns cell -> site; {} with the netlist unchanged
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

    placed = dict(zip(sorted(rams, key=key), sites))
    for cell, site in placed.items():
        mod["cells"][cell]["attributes"]["BEL"] = site
    return placed
