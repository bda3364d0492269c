"""What `bnngen build` writes: Verilog, manifest, IP files and the self-checking bench."""
