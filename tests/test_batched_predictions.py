"""Batched scoring must price real items exactly as scoring them one at a time. Its batches hold
prompts of one token length, so none is padded: left padding would change bf16 rounding, and with
it some greedy prices (docs/benchmarks.md)."""

from pricer.data.curation import CurationRules, curate
from pricer.data.prompts import parse_price
from pricer.data.sources import read_source
from pricer.evaluation.decoding import decode
from pricer.evaluation.scoring import (
    CPU_SCORING_BATCH,
    GPU_SCORING_BATCH,
    scoring_batch_size,
)
from pricer.model.quantization import load_quantized
from resources.compute import ComputeResource


def test_batched_greedy_matches_one_at_a_time_on_64_real_items(shared_data, model_path, tokenizer):
    rows = read_source(str(shared_data / "pricer_test_tail_1750.jsonl"))
    items = curate(rows, tokenizer, CurationRules()).items[:64]
    assert len(items) == 64
    prompts = [item.prompt for item in items]
    model = load_quantized(model_path, "cpu").eval()

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
