"""The Hugging Face model card (README.md with YAML front matter) pushed with each checkpoint.

The front matter is written by huggingface_hub's own ModelCardData, so the Hub reads its
`model-index` (this checkpoint's validation and test scores) as it expects them.
"""

from __future__ import annotations

import json

from huggingface_hub import EvalResult, ModelCardData

from pricer.data.prompts import make_prompt
from pricer.evaluation.epoch_record import EpochRecord
from pricer.evaluation.epoch_table import epoch_table
from pricer.evaluation.metrics import HIT_DOLLARS, HIT_FRACTION, Scores

TAGS = ["pricer", "price-prediction", "peft", "lora", "qlora"]
TASK = "text-generation"
DATASET_TYPE = "pricer-products"
SPLITS = ("validation", "test")
HIT_RULE = f"within ${HIT_DOLLARS:.0f} or {HIT_FRACTION:.0%} of the true price"
# The model-index metric for each Scores field: (metric type, metric name).
METRICS = {
    "mean_abs_error": ("mae", "Mean absolute error ($)"),
    "rmsle": ("rmsle", "RMSLE"),
    "hit_rate": ("hit_rate", f"Hit rate ({HIT_RULE})"),
}


def model_card(
    base_model: str,
    history: list[EpochRecord],
    dataset_version: str = "",
    base_origin: str = "",
) -> str:
    """history[-1] is the checkpoint this card goes with; earlier records are the run's earlier
    epochs. `base_origin` says where the base's weights came from (model/provenance.py)."""
    if not history:
        raise ValueError("a model card needs at least the epoch of its own checkpoint")
    this = history[-1]
    run_key = this.run_key
    metadata = ModelCardData(
        base_model=base_model,
        library_name="peft",
        pipeline_tag=TASK,
        tags=TAGS,
        model_name=f"{run_key}-epoch-{this.epoch}",
        eval_results=_eval_results(this, dataset_version),
    )
    body = _body(base_model, history, dataset_version, base_origin)
    return f"---\n{metadata.to_yaml()}\n---\n\n{body}"


def _eval_results(record: EpochRecord, dataset_version: str) -> list[EvalResult]:
    return [
        EvalResult(
            task_type=TASK,
            task_name="Price prediction",
            dataset_type=DATASET_TYPE,
            dataset_name=f"pricer curated products ({split})",
            dataset_split=split,
            dataset_revision=dataset_version or None,
            metric_type=metric_type,
            metric_name=metric_name,
            metric_value=getattr(getattr(record, split), field),
        )
        for split in SPLITS
        for field, (metric_type, metric_name) in METRICS.items()
    ]


def _body(
    base_model: str, history: list[EpochRecord], dataset_version: str, base_origin: str
) -> str:
    this = history[-1]
    run_key = this.run_key
    hyperparameters = json.dumps(this.settings.as_dict(), indent=2)
    data = f" (dataset version `{dataset_version}`)" if dataset_version else ""
    weights = (
        f"\n## Base model\n\n{base_origin}; then quantized to 4-bit NF4 with bitsandbytes, "
        f"computing in {this.precision}.\n"
        if base_origin
        else ""
    )
    return f"""# {run_key}, epoch {this.epoch}

A LoRA adapter trained by pricer with QLoRA: `{base_model}` loaded in
4-bit NF4, and this adapter trained over it to read a product's description and write its price.
It is the checkpoint after epoch {this.epoch} of training run `{run_key}`. It was trained and
scored computing in {this.precision}.
{weights}

## How to prompt it

Give it the description in this prompt, and let it continue (greedy decoding; a few new tokens
are enough):

```text
{make_prompt("<product description>")}
```

It answers with the price in whole dollars, such as `129.00`; the price is the first number it
writes. pricer runs it with `pricer predict --run {run_key} --epoch {this.epoch} "<description>"`,
and `pricer export` saves it merged into the base as a plain transformers model.

## Scores of this checkpoint

Mean absolute error in dollars, root mean squared log error, and hits: guesses {HIT_RULE}.

| split | $ error | RMSLE | hits | items | no number |
|:---|---:|---:|---:|---:|---:|
{_scores_row("validation, weighted price", this.weighted_validation)}
{_scores_row("test, weighted price", this.weighted_test)}
{_scores_row("validation, greedy", this.validation)}
{_scores_row("test, greedy", this.test)}

## Every epoch of the run so far

{epoch_table(history, revisions=False)}

## Training hyperparameters

Trained on pricer's curated split of product prices{data}, computing in {this.precision}.

```json
{hyperparameters}
```
"""


def _scores_row(split: str, scores: Scores) -> str:
    return (
        f"| {split} | {scores.mean_abs_error:.2f} | {scores.rmsle:.3f} | {scores.hit_rate:.1%} "
        f"| {scores.count} | {scores.no_number} |"
    )
