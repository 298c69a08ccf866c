"""`pricer export` on a real checkpoint: the folder it writes is a plain transformers model that
writes exactly what the base with its adapter writes."""

import json
import os
import subprocess
from pathlib import Path

import pytest
import torch
from conftest import PRICER, export
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer

from pipelines.launch import latest_metadata
from pricer.data.prompts import make_prompt
from pricer.evaluation.decoding import MAX_NEW_TOKENS
from pricer.hub.local_git import LocalGitStore


@pytest.fixture(scope="module")
def exported(trained_run, pricer_home, tmp_path_factory) -> Path:
    """The export in the precision it is written in by default, bfloat16."""
    return export(trained_run, pricer_home, tmp_path_factory.mktemp("export") / "merged")


@pytest.fixture(scope="module")
def adapter(trained_run, pricer_home) -> Path:
    pushed = latest_metadata(
        trained_run.instance, f"hub_checkpoint_epoch_{trained_run.epochs}", trained_run.run_key
    )
    store = LocalGitStore(pricer_home / "hub")
    return store.download(pushed["repo_id"], pushed["revision"], pricer_home / "export-adapter")


@pytest.fixture(scope="module")
def prompts(shared_data) -> list[str]:
    lines = (shared_data / "pricer_test_tail_1750.jsonl").read_text().splitlines()[:6]
    return [make_prompt(json.loads(line)["text"]) for line in lines]


def greedy_tokens(model, tokenizer, prompt: str) -> list[int]:
    encoded = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        output = model.generate(
            **encoded,
            max_new_tokens=MAX_NEW_TOKENS,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
        )
    return output[0, encoded["input_ids"].shape[1] :].tolist()


@pytest.mark.parametrize("folder", ["exported", "exported_float32"])
def test_the_folder_holds_safetensors_and_no_adapter(folder, request):
    names = {path.name for path in request.getfixturevalue(folder).iterdir()}
    assert any(name.endswith(".safetensors") for name in names)
    assert not any(name.startswith("adapter_") for name in names)
    assert {"config.json", "tokenizer.json"} <= names


def test_merged_weights_differ_from_the_base_only_where_the_adapter_was(
    exported_float32, adapter, model_path
):
    targets = json.loads((adapter / "adapter_config.json").read_text())["target_modules"]
    merged = AutoModelForCausalLM.from_pretrained(exported_float32).state_dict()
    base = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32).state_dict()
    assert merged.keys() == base.keys()
    changed = {name for name in base if not torch.equal(base[name], merged[name])}
    assert changed
    assert all(name.split(".")[-2] in targets for name in changed)


def test_merged_model_writes_what_base_and_adapter_write(
    exported_float32, adapter, model_path, tokenizer, prompts
):
    # In float32: in bfloat16 this small model's top two logits are often tied exactly, so
    # rounding the merged weights once more can flip a greedy token without anything being wrong.
    merged = AutoModelForCausalLM.from_pretrained(exported_float32).eval()
    assert merged.dtype == torch.float32
    assert not any("lora_" in name for name, _ in merged.named_modules())
    base = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32)
    unmerged = PeftModel.from_pretrained(base, str(adapter)).eval()
    merged_tokenizer = AutoTokenizer.from_pretrained(exported_float32)
    merged_tokens = [greedy_tokens(merged, merged_tokenizer, p) for p in prompts]
    unmerged_tokens = [greedy_tokens(unmerged, tokenizer, p) for p in prompts]
    assert merged_tokens == unmerged_tokens
    assert all(merged_tokens)


def test_the_default_export_is_the_same_model_in_bfloat16(exported, exported_float32):
    merged = AutoModelForCausalLM.from_pretrained(exported)
    assert merged.dtype == torch.bfloat16
    full = AutoModelForCausalLM.from_pretrained(exported_float32).state_dict()
    for name, weight in merged.state_dict().items():
        # bfloat16 keeps 8 bits of mantissa: each weight within a percent of its tensor's scale.
        scale = full[name].abs().max()
        assert (weight.float() - full[name]).abs().max() <= 0.01 * scale, name


def test_an_adapter_trained_on_another_base_is_one_line_and_writes_nothing(
    trained_run, pricer_home, model_path, tokenizer, tmp_path
):
    from transformers import LlamaConfig, LlamaForCausalLM

    # A Llama with the same layer names and tokenizer but narrower layers: the adapter's matrices
    # cannot fold into them.
    other = tmp_path / "narrower-base"
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
    )
    LlamaForCausalLM(config).save_pretrained(other)
    tokenizer.save_pretrained(other)
    output = tmp_path / "out"
    done = subprocess.run(
        [
            str(PRICER),
            "export",
            "--run",
            trained_run.run_key,
            "--base-model",
            str(other),
            str(output),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PRICER_HOME": str(pricer_home)},
    )
    assert done.returncode == 2
    # The error is the last line, whole, after the loading progress transformers prints.
    assert "does not fit the base" in done.stderr.strip().splitlines()[-1], done.stderr
    assert "Traceback" not in done.stderr
    assert not output.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
