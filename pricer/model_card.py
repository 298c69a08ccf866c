"""The Hugging Face model card (README.md with YAML front matter) pushed with each checkpoint."""

from __future__ import annotations

import json

from pricer.settings import TrainingSettings


def model_card(
    base_model: str, run_key: str, epoch: int, settings: TrainingSettings, train_loss: float
) -> str:
    hyperparameters = json.dumps(settings.as_dict(), indent=2)
    return f"""---
base_model: {base_model}
library_name: peft
pipeline_tag: text-generation
tags:
- pricer
- qlora
- lora
- price-prediction
---

# {run_key}, epoch {epoch}

A LoRA adapter trained by pricer to predict a product's price from its description, on top of
`{base_model}` quantized to 4-bit NF4. Prompt it with
`How much does this cost to the nearest dollar?\\n\\n<description>\\n\\nPrice is $`.

Training loss over epoch {epoch}: {train_loss:.4f}. Validation and test scores are recorded by the
run's scores assets.

## Training hyperparameters

```json
{hyperparameters}
```
"""
