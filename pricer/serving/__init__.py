"""Serving: pricing with a checkpoint after its run, fast on a CPU. The base is saved once as
pricing computes with it (the ready copy), a small Llama decoder in plain torch runs it with the
checkpoint's adapter, and `pricer predict` and `pricer serve` price through it."""
