"""Real product files from ../shared/data, through the dataset asset as a user would run it."""

import json

import dagster as dg
import pytest

from assets.dataset import product_dataset
from resources import BaseModelResource


def materialize_dataset(path, pricer_home, **config):
    result = dg.materialize(
        [product_dataset],
        resources={"base_model": BaseModelResource(cache_dir=str(pricer_home))},
        run_config={
            "ops": {
                "product_dataset": {"config": {"source": str(path), "min_chars": 200, **config}}
            }
        },
    )
    assert result.success
    metadata = result.asset_materializations_for_node("product_dataset")[0].metadata
    return result.output_for_node("product_dataset"), {k: v.value for k, v in metadata.items()}


def test_raw_listing_file_counts_each_rejection(shared_data, pricer_home, model_path):
    path = shared_data / "amazon2020_972.jsonl"
    raw = [json.loads(line) for line in path.read_text().splitlines()]
    dataset, metadata = materialize_dataset(path, pricer_home)

    out_of_range = sum(not 0.5 <= r["price"] <= 999.49 for r in raw)
    short = sum(len(r["text"].strip()) < 200 for r in raw if 0.5 <= r["price"] <= 999.49)
    assert short > 0
    assert metadata["rows_in"] == len(raw)
    assert metadata.get("rejected_price_out_of_range", 0) == out_of_range
    assert metadata["rejected_text_too_short"] == short
    assert metadata["rows_kept"] + metadata["rows_rejected"] == len(raw)
    kept = dataset.curation.items
    assert len({i.text for i in kept}) == len(kept)  # no duplicate survives
    assert metadata.get("rejected_duplicate", 0) == len(raw) - out_of_range - short - len(kept)
    assert all(0.5 <= i.price <= 999.49 for i in kept)


def test_curated_file_passes_through_whole(shared_data, pricer_home, model_path):
    path = shared_data / "pricer_6cat_2000.jsonl"
    raw = [json.loads(line) for line in path.read_text().splitlines()]
    exact_duplicates = len(raw) - len({(r["text"], r["price"]) for r in raw})
    _, metadata = materialize_dataset(path, pricer_home, validation_size=200, test_size=250)
    assert metadata["rows_kept"] == len(raw) - exact_duplicates
    assert metadata["rows_rejected"] == exact_duplicates == metadata["rejected_duplicate"]
    assert (metadata["validation_items"], metadata["test_items"]) == (200, 250)
    assert metadata["text_tokens_max"] <= 160
    assert "data:image/png;base64," in metadata["price_histogram"]


def test_data_version_follows_the_content(shared_data, pricer_home, model_path, tmp_path):
    rows = (shared_data / "pricer_train_250.jsonl").read_text().splitlines()
    copy = tmp_path / "catalogue.jsonl"
    copy.write_text("\n".join(rows) + "\n")
    _, first = materialize_dataset(copy, pricer_home, validation_size=20, test_size=20)
    _, same = materialize_dataset(copy, pricer_home, validation_size=20, test_size=20)
    edited = json.loads(rows[0]) | {"price": json.loads(rows[0])["price"] + 1}
    copy.write_text("\n".join([json.dumps(edited), *rows[1:]]) + "\n")
    _, changed = materialize_dataset(copy, pricer_home, validation_size=20, test_size=20)
    assert first["data_version"] == same["data_version"] != changed["data_version"]


@pytest.mark.parametrize("name", ["pricer_test_tail_1750.jsonl", "pricer_appliances_2000.jsonl"])
def test_other_curated_files_keep_nearly_everything(shared_data, pricer_home, model_path, name):
    _, metadata = materialize_dataset(shared_data / name, pricer_home)
    assert metadata["rows_rejected"] <= 0.01 * metadata["rows_in"]
