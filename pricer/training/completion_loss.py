"""The training loss on the CPU, with the LM head applied only where a label is.

TRL's SFT loss runs the LM head through its chunked log-probability kernel. On a GPU with Triton it
projects only the positions that carry a label (the price); on the CPU it projects every position
of every row, prompt and padding included, then zeroes the unlabelled ones: with a large vocabulary
and a short price after a long prompt, a large share of a CPU training step (docs/benchmarks.md).
Here the same kernel gets the labelled positions only. Each position depends on its own row alone,
so training comes out bit for bit as on TRL's CPU path: tests/test_completion_loss.py compares the
step losses, the evaluation loss and the adapter.
"""

from __future__ import annotations

import torch
from trl.kernels.chunked_logprob import ChunkedLogProbFunction

IGNORED = -100  # the label of a position that is not trained on
# TRL's own vocabulary tile for this kernel: the same tiles, the same rounding.
VOCABULARY_CHUNK = 32768


def supports_completion_loss(model) -> bool:
    """Models whose logits are the plain LM head's and whose loss is the labels' alone: no
    soft-capping, scaling, bias or adapter on the head, and no mixture-of-experts auxiliary loss.
    Anything else keeps TRL's path."""
    config = model.config.get_text_config()
    head = model.get_output_embeddings()
    scaled = any(
        getattr(config, name, None) not in (None, 1.0)
        for name in (
            "final_logit_softcapping",
            "logit_scale",
            "output_multiplier",
            "lm_head_multiplier",
            "logits_scaling",
        )
    )
    return (
        not scaled
        and type(head) is torch.nn.Linear  # a LoRA-wrapped head would skip its adapter here
        and head.bias is None
        and not getattr(config, "output_router_logits", False)
        # The last hidden state read must be the one after the final norm.
        and getattr(config, "tie_last_hidden_states", None) in (None, True)
    )


def completion_loss(
    model, head: torch.nn.Module, inputs: dict, num_items_in_batch=None
) -> torch.Tensor:
    """Mean negative log-likelihood of the labelled tokens, as TRL's SFT loss defines it.

    `model` is called as the trainer wraps it (under DDP, the wrapper), so gradients synchronise
    as they do for TRL's loss; `head` is its LM head.
    """
    forward = {name: value for name, value in inputs.items() if name != "labels"}
    # The last hidden state comes out after the final norm; logits for one position are all
    # the plain forward is asked for.
    output = model(**forward, use_cache=False, output_hidden_states=True, logits_to_keep=1)
    hidden = output.hidden_states[-1][:, :-1]
    targets = inputs["labels"][:, 1:].to(hidden.device)  # position t predicts token t + 1
    labelled = targets != IGNORED
    log_probs = ChunkedLogProbFunction.apply(
        hidden[labelled],
        head.weight,
        None,
        targets[labelled],
        1.0,  # temperature
        VOCABULARY_CHUNK,
        None,  # no soft-capping
        1.0,  # no logit scale
        ("log_probs",),
    )[0]
    # Back in place among zeros before summing, as TRL sums them, so the order of addition and
    # with it the rounding are TRL's.
    per_position = log_probs.new_zeros(labelled.shape).masked_scatter(labelled, log_probs)
    tokens = labelled.sum() if num_items_in_batch is None else num_items_in_batch
    return -per_position.sum() / torch.as_tensor(tokens).clamp(min=1)
