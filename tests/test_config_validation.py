"""A bad configuration fails with a clear message before any model is loaded."""

import dagster as dg
import pytest

from assets.base_model import quantized_base_model
from assets.config import TrainingRunConfig
from pipelines.definitions import MAX_EPOCHS, epoch_assets
from pricer.curation import CurationRules
from pricer.dataset import build_dataset
from pricer.runs import BaseModelSpec
from resources import BaseModelResource, ComputeResource, TrackerResource


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"lora_r": 0}, "rank r must be positive"),
        ({"epochs": 0}, "epochs must be at least 1"),
        ({"epochs": MAX_EPOCHS + 1}, "exceeds max_epochs"),
        ({"learning_rate": 0.0}, "learning_rate must be positive"),
        ({"batch_size": 0}, "batch_size"),
        ({"target_modules": []}, "at least one target module"),
    ],
)
def test_bad_training_config_fails_before_a_model_loads(change, message, tmp_path, tokenizer):
    first_epoch = next(a for a in epoch_assets if a.key.path[-1] == "lora_adapter_epoch_1")
    # A base model that does not exist: were validation not first, loading it would fail instead.
    missing = BaseModelSpec("nowhere", "nowhere", str(tmp_path / "no-model"))
    context = dg.build_asset_context(partition_key="pricer-2026-11-24_10.00.00")
    with pytest.raises(ValueError, match=message):
        list(
            first_epoch(
                context=context,
                config=TrainingRunConfig(**change),
                tracker=TrackerResource(mode="disabled"),
                compute=ComputeResource(work_dir=str(tmp_path)),
                product_dataset=build_dataset("embedded", tokenizer, CurationRules(), 5, 5, 1, 40),
                quantized_base_model=missing,
            )
        )


def test_unknown_target_module_fails_at_the_base_model(pricer_home, model_path):
    result = dg.materialize(
        [quantized_base_model],
        resources={
            "base_model": BaseModelResource(cache_dir=str(pricer_home)),
            "compute": ComputeResource(work_dir=str(pricer_home)),
        },
        run_config={
            "ops": {"quantized_base_model": {"config": {"target_modules": ["q_proj", "qkv"]}}}
        },
        raise_on_error=False,
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "unknown LoRA target module(s) ['qkv']" in str(failure.step_failure_data.error)
    assert "q_proj" in str(failure.step_failure_data.error)  # and it lists what there is
