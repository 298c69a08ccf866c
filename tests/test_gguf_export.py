"""`pricer export --format gguf` on a real checkpoint, loaded by a real llama.cpp runtime
(llama-cpp-python): in f32 it writes what the merged PyTorch model writes, token for token, and in
Q8_0, the default, its prices agree with the PyTorch model's on the validation items."""

import math
from pathlib import Path

import pytest
from conftest import export

try:
    from llama_cpp import Llama
except ImportError:  # a failure, not a skip: the export would go untested
    pytest.fail("llama-cpp-python is missing: `make test` installs it (the gguf-test extra)")
from test_export import greedy_tokens
from transformers import AutoModelForCausalLM, AutoTokenizer

from pipelines.launch import stored_value
from pricer.data.prompts import make_prompt, parse_price
from pricer.evaluation.decoding import MAX_NEW_TOKENS

# Q8_0 rounds each weight to one of 255 steps of its block's scale: a greedy token can flip where
# the top two logits are close, and then the price with it. These bounds are what that allows on
# the validation items, measured on the 2-core AVX2 EPYC (docs/benchmarks.md): most prices the
# same, and the run's mean price moving by a few percent at most.
Q8_SAME_PRICE_AT_LEAST = 0.8
Q8_MEAN_PRICE_WITHIN = 0.05


@pytest.fixture(scope="module")
def validation_prompts(trained_run) -> list[str]:
    dataset = stored_value(trained_run.instance, "product_dataset")
    return [make_prompt(item.text) for item in dataset.splits.validation[:24]]


@pytest.fixture(scope="module")
def torch_model(exported_float32):
    return (
        AutoModelForCausalLM.from_pretrained(exported_float32).eval(),
        AutoTokenizer.from_pretrained(exported_float32),
    )


def gguf_export(trained_run, pricer_home, folder: Path, *options: str) -> Llama:
    path = export(trained_run, pricer_home, folder / "pricer.gguf", "--format", "gguf", *options)
    return Llama(str(path), n_ctx=512, n_threads=2, verbose=False, seed=0)


def llama_greedy_tokens(llm: Llama, prompt_ids: list[int]) -> list[int]:
    """llama.cpp's own greedy decoding of the prompt, up to the end token or the price's budget."""
    tokens = []
    for token in llm.generate(prompt_ids, temp=0.0):
        if token == llm.token_eos() or len(tokens) == MAX_NEW_TOKENS:
            break
        tokens.append(token)
    return tokens


def prompt_ids(tokenizer, prompt: str) -> list[int]:
    return tokenizer(prompt, add_special_tokens=False)["input_ids"]


def test_the_f32_file_writes_what_the_merged_model_writes(
    trained_run, pricer_home, tmp_path, torch_model, validation_prompts
):
    llm = gguf_export(trained_run, pricer_home, tmp_path, "--gguf-type", "f32")
    model, tokenizer = torch_model
    prompts = validation_prompts[:8]
    for prompt in prompts:
        # One tokenizer: llama.cpp reads the same ids from the prompt as transformers.
        assert llm.tokenize(prompt.encode(), add_bos=False, special=True) == prompt_ids(
            tokenizer, prompt
        )
    ours = [greedy_tokens(model, tokenizer, p) for p in prompts]
    theirs = [llama_greedy_tokens(llm, prompt_ids(tokenizer, p)) for p in prompts]
    # transformers keeps the end token it stopped at; llama.cpp's loop above does not.
    assert theirs == [[t for t in tokens if t != tokenizer.eos_token_id] for tokens in ours]
    assert all(theirs)


def test_q8_0_prices_agree_with_the_pytorch_model(
    trained_run, pricer_home, tmp_path, torch_model, validation_prompts
):
    llm = gguf_export(trained_run, pricer_home, tmp_path)
    model, tokenizer = torch_model

    def price(tokens: list[int]) -> float | None:
        return parse_price(tokenizer.decode(tokens, skip_special_tokens=True))

    ours = [price(greedy_tokens(model, tokenizer, p)) for p in validation_prompts]
    theirs = [price(llama_greedy_tokens(llm, prompt_ids(tokenizer, p))) for p in validation_prompts]
    pairs = list(zip(ours, theirs, strict=True))
    same = sum(a == b for a, b in pairs)
    assert same >= Q8_SAME_PRICE_AT_LEAST * len(pairs), pairs
    priced = [(a, b) for a, b in pairs if a is not None and b is not None]
    assert priced, pairs
    mean_ours = sum(a for a, _ in priced) / len(priced)
    mean_theirs = sum(b for _, b in priced) / len(priced)
    assert math.isclose(mean_ours, mean_theirs, rel_tol=Q8_MEAN_PRICE_WITHIN), pairs
