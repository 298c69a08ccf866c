"""Batched, left-padded scoring must price real items exactly as scoring them one at a time."""

from pricer.curation import CurationRules, curate
from pricer.evaluation import generate_completions
from pricer.prompts import parse_price
from pricer.quantization import load_quantized
from pricer.sources import read_source


def test_batched_greedy_matches_one_at_a_time_on_64_real_items(shared_data, model_path, tokenizer):
    rows = read_source(str(shared_data / "pricer_test_tail_1750.jsonl"))
    items = curate(rows, tokenizer, CurationRules()).items[:64]
    assert len(items) == 64
    prompts = [item.prompt for item in items]
    model = load_quantized(model_path, "cpu").eval()

    batched = generate_completions(model, tokenizer, prompts, batch_size=32)
    single = generate_completions(model, tokenizer, prompts, batch_size=1)

    # Real texts differ in length, so the batches really were padded.
    lengths = {len(ids) for ids in tokenizer(prompts, add_special_tokens=False)["input_ids"]}
    assert len(lengths) > 1
    assert [parse_price(o) for o in batched] == [parse_price(o) for o in single]
    assert batched == single
