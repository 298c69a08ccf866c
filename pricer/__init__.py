"""pricer's domain, in plain Python with no Dagster import: usable from a notebook or a script.

Its stages, in the order a training run meets them: `data` (raw rows to curated, split items),
`model` (the base model and its 4-bit loading), `training` (one epoch at a time, as one run),
`evaluation` (pricing items, scoring them, choosing the best epoch), `release` (model cards,
the champion, export) and `serving` (pricing with a checkpoint afterwards, fast on a CPU), with
`hub` holding checkpoints in the Hugging Face Hub's shape.
"""
