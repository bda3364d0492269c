"""The layer table of `bnngen info`: shapes, weight bits, pruning and work per frame."""

from __future__ import annotations

from models.description import Conv, Description, Thermometer


def layer_rows(desc: Description) -> list[dict]:
    """One dict per stage (encoder first) with the numbers the table shows.

    `wires` are the weights that cost hardware in an unfolded engine: kept weights in the
    bipolar domain, beta (bit 1) weights in the sparse domain. `binops` counts one
    XNOR/AND and one accumulate per wire per output position (2 ops), plus the shared
    P_all popcount of a sparse layer whose p is not 0.
    """
    inp = desc.input
    enc = desc.encoder
    enc_name = (f"thermometer T={enc.planes}{' learned' if enc.learned else ''}"
                if isinstance(enc, Thermometer) else f"bitplanes B={inp.bits}")
    hw = inp.height * inp.width
    comparators = enc.planes * inp.channels if isinstance(enc, Thermometer) else 0
    rows = [{"name": "encoder", "kind": enc_name, "input": inp.shape,
             "output": desc.encoded_shape, "weights": 0, "kept": 0, "wires": 0,
             "binops": comparators * hw, "detail": ""}]
    for layer, in_shape in zip(desc.layers, desc.layer_inputs()):
        row = {"name": layer.name, "input": in_shape, "output": layer.out_shape, "weights": 0,
               "kept": 0, "wires": 0, "binops": 0, "detail": ""}
        if isinstance(layer, Conv):
            positions = layer.out_shape[0] * layer.out_shape[1]
            dense = layer.kernel == in_shape[:2] and layer.padding == (0, 0)
            row["kind"] = ("dense" if dense else "conv") + (" scores" if layer.scores else "")
            total = layer.weights.size
            if layer.domain == "bipolar":
                kept = wires = int(layer.kept.sum())
            else:
                kept, wires = total, int(layer.weights.sum())
            shared = 0
            if layer.domain == "sparse" and layer.p != 0:
                shared = layer.groups * layer.kernel[0] * layer.kernel[1] * \
                    layer.in_channels_per_group
            row.update(weights=total, kept=kept, wires=wires,
                       binops=2 * (wires + shared) * positions)
            k = "x".join(map(str, layer.kernel))
            s = "x".join(map(str, layer.stride))
            row["detail"] = (f"k{k} s{s} p{layer.padding[0]},{layer.padding[1]}/{layer.pad_bit}"
                             f" g{layer.groups} {layer.domain}"
                             + (f" q={layer.q} p={layer.p}" if layer.domain == "sparse" else ""))
        else:
            row["kind"] = "maxpool"
            row["detail"] = f"k{layer.kernel[0]}x{layer.kernel[1]} s{layer.stride[0]}"
            row["binops"] = layer.out_shape[0] * layer.out_shape[1] * layer.out_shape[2] * \
                (layer.kernel[0] * layer.kernel[1] - 1)
        rows.append(row)
    return rows


def _shape(s) -> str:
    return "x".join(map(str, s))


def layer_table(desc: Description) -> str:
    rows = layer_rows(desc)
    head = ["layer", "kind", "in HxWxC", "out HxWxC", "weights", "kept", "pruned", "binops/frame",
            "options"]
    body = []
    for r in rows:
        pruned = f"{1 - r['wires'] / r['weights']:.1%}" if r["weights"] else "-"
        body.append([r["name"], r["kind"], _shape(r["input"]), _shape(r["output"]),
                     str(r["weights"] or "-"), str(r["kept"] or "-"), pruned,
                     f"{r['binops']:,}", r["detail"]])
    weights = sum(r["weights"] for r in rows)
    kept = sum(r["kept"] for r in rows)
    wires = sum(r["wires"] for r in rows)
    body.append(["total", "", "", "", str(weights), str(kept),
                 f"{1 - wires / weights:.1%}" if weights else "-",
                 f"{sum(r['binops'] for r in rows):,}", ""])
    widths = [max(len(x[i]) for x in [head] + body) for i in range(len(head))]
    right = {4, 5, 6, 7}

    def line(cells):
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    out = [f"{desc.name}: input {_shape(desc.input.shape)} x {desc.input.bits} bits, "
           f"{desc.num_classes} classes, {weights:,} weight bits ({weights / 1e6:.3f} Mbit)",
           line(head), line(["-" * w for w in widths])]
    out += [line(b) for b in body[:-1]] + [line(["-" * w for w in widths]), line(body[-1])]
    out.append("pruned = weights that cost no wire (masked, or alpha weights of a sparse layer)")
    return "\n".join(out)
