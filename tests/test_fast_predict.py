"""`pricer predict` on the CPU runs the base's ready copy with a decoder in plain torch
(pricer/serving): it must price as scoring's path, transformers and PEFT over the 4-bit base, does.
Measured on the embedded base with a random adapter, on a CPU with AVX-512 BF16: in bf16 the
logits were the same to the bit; in fp32 they differed by up to 4e-5, which moves a weighted price
by far less than a cent and a greedy one only at a near tie."""

import json
import os
import subprocess

import pytest
import torch
from conftest import PRICER
from safetensors.torch import save_file

from pipelines.launch import latest_metadata
from pricer.data.curation import CurationRules, curate
from pricer.data.sources import read_source
from pricer.evaluation.decoding import decode, equal_length_batches
from pricer.evaluation.scoring import load_for_pricing
from pricer.hub.local_git import LocalGitStore
from pricer.model.precision import choose_precision
from pricer.model.ready_copy import find_ready_copy, ready_copy_folder
from pricer.serving.decoder import AdapterMismatch, LlamaDecoder, Lora
from pricer.serving.loading import load_ready
from pricer.serving.pricing import price_descriptions

# The largest logit difference either precision may show: fp32's measured 4e-5 with room, and
# half a bf16 step at the logits' size (about 16) where bf16 rounds differently on another CPU.
LOGIT_TOLERANCE = {"fp32": 1e-3, "bf16": 0.0625}


@pytest.fixture(scope="module")
def precision() -> str:
    return choose_precision("auto", "cpu").name


@pytest.fixture(scope="module")
def adapter(trained_run, pricer_home, tmp_path_factory):
    chosen = latest_metadata(trained_run.instance, "best_checkpoint", trained_run.run_key)
    store = LocalGitStore(pricer_home / "hub")
    return store.download(
        chosen["repo_id"], chosen["revision"], tmp_path_factory.mktemp("ready") / "adapter"
    )


@pytest.fixture(scope="module")
def both(model_path, pricer_home, adapter, precision):
    """Scoring's model and the ready decoder, over the same base and adapter."""
    model, tokenizer = load_for_pricing(model_path, str(adapter), "cpu", precision)
    decoder, fast_tokenizer = load_ready(pricer_home, model_path, adapter, precision)
    return model, tokenizer, decoder, fast_tokenizer


@pytest.fixture(scope="module")
def items(shared_data, tokenizer):
    rows = read_source(str(shared_data / "pricer_test_tail_1750.jsonl"))
    return curate(rows, tokenizer, CurationRules()).items[:16]


def test_the_ready_copy_is_written_once_and_found(pricer_home, model_path, both, precision):
    folder = ready_copy_folder(pricer_home, model_path, precision)
    found = find_ready_copy(folder)
    assert found is not None and found.precision == precision
    assert sorted(p.name for p in folder.parent.iterdir() if p.name.startswith(".")) == []


def test_the_decoder_computes_the_logits_scoring_does(both, items, precision):
    model, tokenizer, decoder, _ = both
    prompts = [item.prompt for item in items]
    ids = tokenizer(prompts, add_special_tokens=False)["input_ids"]
    batch = max(equal_length_batches([len(i) for i in ids], 32), key=len)
    input_ids = torch.tensor([ids[i] for i in batch])
    with torch.inference_mode():
        theirs = model(input_ids=input_ids, logits_to_keep=1).logits[:, -1].float()
        ours, _ = decoder.prompt(input_ids)
    assert ours.shape == theirs.shape == (len(batch), len(tokenizer))
    assert (ours - theirs).abs().max().item() <= LOGIT_TOLERANCE[precision]
    assert torch.equal(ours.argmax(-1), theirs.argmax(-1))


def test_both_predictors_price_real_items_as_scoring_does(both, items):
    model, tokenizer, decoder, fast_tokenizer = both
    theirs = decode(model, tokenizer, [item.prompt for item in items], 32, weighted=True)
    # The ready path starts from the description, and cuts and prompts it as curation did.
    ours = price_descriptions(decoder, fast_tokenizer, [i.text for i in items], 160, 32)
    agree = sum(a.completion == b.completion for a, b in zip(ours, theirs, strict=True))
    assert agree >= len(items) - 1  # a near tie may fall the other way in fp32, no more
    for a, b in zip(ours, theirs, strict=True):
        assert a.price(weighted=True) == pytest.approx(b.price(weighted=True), rel=1e-3, abs=0.01)


@pytest.fixture(scope="module")
def decoder_parts(both):
    decoder = both[2]
    return decoder.shape, decoder.weights


def test_an_adapter_of_another_base_is_one_line(decoder_parts):
    shape, weights = decoder_parts
    wrong = Lora(torch.zeros(4, 100), torch.zeros(576, 4), 2.0)
    with pytest.raises(AdapterMismatch, match="q_proj is 576x100, the base's is"):
        LlamaDecoder(shape, weights, {"model.layers.0.self_attn.q_proj": wrong})


def test_predict_names_an_adapter_that_does_not_fit(pricer_home, tmp_path, both):
    store = LocalGitStore(pricer_home / "hub")
    repo_id = store.ensure_repo("another-base")
    folder = tmp_path / "adapter"
    folder.mkdir()
    (folder / "adapter_config.json").write_text(json.dumps({"r": 4, "lora_alpha": 8}))
    key = "base_model.model.model.layers.0.self_attn.q_proj.lora_{}.weight"
    save_file(
        {key.format("A"): torch.zeros(4, 100), key.format("B"): torch.zeros(576, 4)},
        folder / "adapter_model.safetensors",
    )
    revision = store.push_folder(repo_id, folder, "an adapter of another model").revision
    done = subprocess.run(
        [str(PRICER), "predict", "--repo", repo_id, "--revision", revision, "a kettle"],
        capture_output=True,
        text=True,
        env={**os.environ, "PRICER_HOME": str(pricer_home)},
        timeout=300,
    )
    assert done.returncode == 2
    assert "trained on another base" in done.stderr
    assert "Traceback" not in done.stderr
