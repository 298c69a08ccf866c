"""Batched scoring must price real items as scoring them one at a time does. Its batches hold
prompts of one token length, so none is padded: left padding would change the rounding, in bf16
far more than in fp32, and with it some greedy prices (docs/benchmarks.md).

Exactly, in fp32: a row's arithmetic is then the same in a batch as alone, on AVX2 and on
AVX-512 kernels alike. Not in bf16 on a CPU with bf16 instructions: on an AMD EPYC with
avx512_bf16, 4 of 64 real items got another greedy price in batches of 32 than in batches of 1
(the weighted prices did not; which operation rounds apart was not found, its matrix products
give a row the same result at any batch size). So these tests compute in fp32."""

import bitsandbytes as bnb
import pytest

from pricer.data.curation import CurationRules, curate
from pricer.data.prompts import parse_price
from pricer.data.sources import read_source
from pricer.evaluation.decoding import decode
from pricer.evaluation.scoring import (
    CPU_SCORING_BATCH,
    GPU_SCORING_BATCH,
    scoring_batch_size,
)
from pricer.model.quantization import dequantize_once, load_quantized
from resources.compute import ComputeResource


def test_batched_greedy_matches_one_at_a_time_on_64_real_items(shared_data, model_path, tokenizer):
    rows = read_source(str(shared_data / "pricer_test_tail_1750.jsonl"))
    items = curate(rows, tokenizer, CurationRules()).items[:64]
    assert len(items) == 64
    prompts = [item.prompt for item in items]
    model = load_quantized(model_path, "cpu", "fp32").eval()
    dequantize_once(model)  # as scoring prices them; the same NF4 values (the test below)

    batched = [d.completion for d in decode(model, tokenizer, prompts, batch_size=32)]
    single = [d.completion for d in decode(model, tokenizer, prompts, batch_size=1)]

    # Real texts differ in length: batching had to group them by length to match.
    lengths = {len(ids) for ids in tokenizer(prompts, add_special_tokens=False)["input_ids"]}
    assert len(lengths) > 1
    assert [parse_price(o) for o in batched] == [parse_price(o) for o in single]
    assert batched == single


def test_the_scoring_batch_follows_the_device_unless_set():
    assert ComputeResource(device="cpu").scoring_batch_size() == CPU_SCORING_BATCH
    assert scoring_batch_size("cuda") == GPU_SCORING_BATCH > CPU_SCORING_BATCH
    assert ComputeResource(device="cpu", eval_batch_size=7).scoring_batch_size() == 7


def test_weights_dequantized_once_price_exactly_as_4_bit_ones(shared_data, model_path, tokenizer):
    # Scoring dequantizes on the CPU once, before the first pass (evaluation/scoring.py): the
    # NF4 values, so the same greedy text and the same weighted price as bitsandbytes' own
    # dequantize-then-multiply, to the last bit. That path is the one it takes in train mode
    # (the base has no dropout); in eval mode on a CPU with AVX512_BF16 it repacks the layers for
    # a bf16 kernel of its own, which prices differently (one weighted price 6% apart in fp32).
    rows = read_source(str(shared_data / "pricer_test_tail_1750.jsonl"))
    prompts = [item.prompt for item in curate(rows, tokenizer, CurationRules()).items[:16]]
    four_bit = decode(
        load_quantized(model_path, "cpu", "fp32").train(), tokenizer, prompts, 16, weighted=True
    )
    model = load_quantized(model_path, "cpu", "fp32").eval()
    assert dequantize_once(model) > 0
    assert not any(isinstance(m, bnb.nn.Linear4bit) for m in model.modules())
    dequantized = decode(model, tokenizer, prompts, batch_size=16, weighted=True)
    assert [d.completion for d in dequantized] == [d.completion for d in four_bit]
    assert [d.weighted for d in dequantized] == [d.weighted for d in four_bit]


def test_a_model_that_has_run_is_not_dequantized(model_path):
    # Once bitsandbytes has repacked a layer for its AVX512_BF16 kernel, its data no longer
    # dequantizes to the weight: the check must hold wherever that repacking can happen.
    model = load_quantized(model_path, "cpu", "fp32").eval()
    for module in model.modules():
        if isinstance(module, bnb.nn.Linear4bit):
            module.weight.quant_state.packing_format_for_cpu = True
    with pytest.raises(ValueError, match="needs a model that has not run yet"):
        dequantize_once(model)
