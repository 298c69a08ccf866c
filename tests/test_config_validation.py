"""A bad configuration fails with a clear message before any model is loaded."""

import shutil
from pathlib import Path

import dagster as dg
import pytest

from assets.base_model import quantized_base_model
from assets.config import TrainingRunConfig
from pipelines.definitions import MAX_EPOCHS, epoch_assets
from pricer.data.catalogue import generate_catalogue
from pricer.data.curation import CurationRules, curate
from pricer.data.dataset import build_dataset
from pricer.data.sources import RawRow
from pricer.model.spec import BaseModelSpec
from pricer.training.preflight import (
    check_liger_applies,
    check_memory_floor,
    check_run_fits,
    memory_floor_bytes,
    model_shape,
    model_skeleton,
    weights_floor_bytes,
)
from pricer.training.trainer import build_trainer
from resources import BaseModelResource, ComputeResource, HubResource, TrackerResource
from resources.launcher import InProcessTrainer


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"lora_r": 0}, "rank r must be positive"),
        ({"lora_r": -8}, "rank r must be positive"),
        ({"epochs": 0}, "epochs must be at least 1"),
        ({"epochs": MAX_EPOCHS + 1}, "exceeds max_epochs"),
        ({"learning_rate": 0.0}, "learning_rate must be positive"),
        ({"learning_rate": -1e-4}, "learning_rate must be positive"),
        ({"batch_size": 0}, "batch_size"),
        ({"gradient_accumulation_steps": 0}, "gradient_accumulation_steps"),
        ({"target_modules": []}, "at least one target module"),
        ({"batch_size": 10_000}, r"batch_size=10000 is larger than the training split"),
    ],
)
def test_bad_training_config_fails_before_a_model_loads(change, message, tmp_path, tokenizer):
    # A base model that does not exist: were validation not first, loading it would fail instead.
    missing = BaseModelSpec("nowhere", "nowhere", str(tmp_path / "no-model"))
    with pytest.raises(ValueError, match=message):
        _first_epoch(TrainingRunConfig(**change), missing, tmp_path, tokenizer)


def test_an_unknown_target_module_fails_the_first_epoch_from_the_config_alone(
    model_path, tmp_path, tokenizer
):
    base = BaseModelSpec("embedded", "embedded", model_path)
    config = TrainingRunConfig(target_modules=["q_proj", "no_such_proj"])
    with pytest.raises(ValueError, match="no_such_proj"):
        _first_epoch(config, base, tmp_path, tokenizer)


def _first_epoch(config: TrainingRunConfig, base: BaseModelSpec, tmp_path: Path, tokenizer) -> None:
    first_epoch = next(a for a in epoch_assets if a.key.path[-1] == "lora_adapter_epoch_1")
    context = dg.build_asset_context(partition_key="pricer-2026-11-24_10.00.00")
    list(
        first_epoch(
            context=context,
            config=config,
            epoch_trainer=InProcessTrainer(),
            tracker=TrackerResource(mode="disabled"),
            compute=ComputeResource(work_dir=str(tmp_path)),
            hub=HubResource(local_root=str(tmp_path)),
            product_dataset=build_dataset("embedded", tokenizer, CurationRules(), 5, 5, 1, 40),
            quantized_base_model=base,
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


# --- what a configuration cannot know alone: its data, its model, its GPU ----------------------


@pytest.fixture
def config_only_model(tmp_path, model_path) -> str:
    """The model's config.json and nothing else: any attempt to load weights would fail."""
    folder = tmp_path / "config-only"
    folder.mkdir()
    shutil.copy(Path(model_path) / "config.json", folder / "config.json")
    return str(folder)


@pytest.mark.parametrize(
    ("change", "train_items", "message"),
    [
        ({"batch_size": 33}, 32, r"batch_size=33 is larger than the training split \(32 items\)"),
        (
            {"batch_size": 8, "gradient_accumulation_steps": 5},
            32,
            r"batch_size x gradient_accumulation_steps = 40 items, more than the training split",
        ),
    ],
)
def test_a_batch_larger_than_the_training_split_is_refused(
    change, train_items, message, config_only_model
):
    settings = TrainingRunConfig(**change).settings()
    with pytest.raises(ValueError, match=message):
        check_run_fits(settings, train_items, config_only_model, device="cpu")


def test_unknown_training_target_module_is_found_from_the_config_alone(config_only_model):
    settings = TrainingRunConfig(target_modules=["q_proj", "qkv"]).settings()
    with pytest.raises(ValueError) as refused:
        check_run_fits(settings, 200, config_only_model, device="cpu")
    assert "unknown LoRA target module(s) ['qkv']" in str(refused.value)
    assert "gate_proj" in str(refused.value)  # it lists what the model has


def test_a_good_configuration_passes_from_the_config_alone(config_only_model):
    settings = TrainingRunConfig(target_modules=["q_proj", "down_proj"], batch_size=16).settings()
    check_run_fits(settings, 16, config_only_model, device="cpu")  # passes: raises nothing
    # At its edge: the same run on one item fewer than a batch is refused, by the same call.
    with pytest.raises(ValueError, match=r"batch_size=16 is larger than the training split"):
        check_run_fits(settings, 15, config_only_model, device="cpu")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"lr_scheduler": "cosine_annealing"}, "lr_scheduler='cosine_annealing' is not a"),
        ({"optimizer": "adam"}, "optimizer='adam' is not a transformers optimizer"),
        ({"optimizer": "paged_adamw_32bit"}, "pages its state through CUDA memory"),
        ({"liger_kernel": True}, "Liger's Triton kernels, which need a CUDA GPU"),
    ],
)
def test_an_unknown_scheduler_or_optimizer_is_refused_before_training(
    change, message, config_only_model
):
    with pytest.raises(ValueError, match=message):
        check_run_fits(TrainingRunConfig(**change).settings(), 200, config_only_model, "cpu")
    # The same names, spelled as transformers spells them, pass the same call.
    known = {"lr_scheduler": "cosine_with_restarts", "optimizer": "adamw_torch_fused"}
    check_run_fits(TrainingRunConfig(**known).settings(), 200, config_only_model, "cpu")


def test_liger_is_refused_for_another_architecture():
    with pytest.raises(ValueError, match=r"wired for Llama-architecture models, .* 'qwen2'"):
        check_liger_applies("qwen2")


def test_torch_compile_reaches_the_trainer(model_path, tmp_path, tokenizer):
    rows = [RawRow(i, r) for i, r in enumerate(generate_catalogue(size=24, bad_row_share=0))]
    items = curate(rows, tokenizer, CurationRules(max_text_tokens=20)).items
    settings = TrainingRunConfig(torch_compile=True, max_length=64).settings()
    trainer = build_trainer(model_path, items, items[:2], settings, tmp_path)
    assert trainer.args.torch_compile is True  # unwired, it stays transformers' default, False


def test_a_batch_whose_logits_alone_overflow_the_gpu_is_refused(config_only_model):
    shape = model_shape(model_skeleton(config_only_model))
    free = 80 * 2**30  # an 80 GB card, empty
    fits = TrainingRunConfig(batch_size=16, max_length=182).settings()
    huge = TrainingRunConfig(batch_size=4096, max_length=182).settings()

    check_memory_floor(fits, shape, free)
    with pytest.raises(ValueError, match=r"batch_size=4096 with max_length=182 needs at least"):
        check_memory_floor(huge, shape, free)
    assert memory_floor_bytes(huge, shape) > free >= memory_floor_bytes(fits, shape)


def test_the_weights_floor_is_under_the_real_4bit_footprint(model_path):
    from pricer.model.quantization import load_quantized

    floor = weights_floor_bytes(model_shape(model_skeleton(model_path)))
    # The floor guards GPU memory, where the unquantized weights are 2 bytes (bf16 or fp16);
    # loading computes nothing, so bf16 costs nothing here even on a CPU that emulates it.
    real = load_quantized(model_path, "cpu", "bf16").get_memory_footprint()
    # A floor, and a close one: it leaves out only quantization constants.
    assert 0.9 * real < floor <= real


def test_a_tolerance_set_on_select_best_is_refused_with_where_it_now_lives():
    from assets.best_checkpoint import SelectionConfig

    SelectionConfig().refuse_moved_settings()  # nothing set: nothing to refuse
    with pytest.raises(dg.Failure, match=r"training run setting.*lora_adapter_epoch_1's config"):
        SelectionConfig(overfit_tolerance=0.05).refuse_moved_settings()
