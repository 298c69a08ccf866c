"""The training stage: a run's settings, checked before any weight loads, and one epoch of QLoRA
training at a time that resumes exactly where the epoch before stopped, in one process or as the
ranks of a torchrun group; step checkpoints, W&B tracking and when a new run is due."""
