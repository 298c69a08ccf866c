"""Serving: pricing with a checkpoint after its run, fast on a CPU. A small Llama decoder in plain
torch runs the base's ready copy (model/ready_copy.py: the base saved once as the CPU computes with
it) with the checkpoint's adapter, and `pricer predict` and `pricer serve` price through it."""
