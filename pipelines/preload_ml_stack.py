"""What the fork server of a model job imports once, before any step process is forked from it.

Imported for its side effect only: Dagster names it in `preload_modules` (see step_processes.py).
Nothing here reads pricer's settings from the environment, and nothing runs a torch operation:
OpenMP's thread pool does not survive a fork, so a forked step would hang in its first parallel
kernel.
"""

import torch

# Only a CPU build of torch preloads the rest. With a CUDA or ROCm build, bitsandbytes (which PEFT
# imports) initialises CUDA on import where a GPU is present, and so could asking torch whether one
# is; no process forked after that can use CUDA ("Cannot re-initialize CUDA in forked subprocess").
if torch.version.cuda is None and torch.version.hip is None:
    import peft  # noqa: F401
    import transformers.models.llama.modeling_llama  # noqa: F401
    import trl  # noqa: F401
