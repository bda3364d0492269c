"""The folded engine (`pe` lanes of `simd` bits, weights in a memory), its schedule and
the planned network top that uses it."""
