import json
import math
import statistics

import pytest

from pricer.data.catalogue import generate_catalogue, rule_prices
from pricer.data.curation import CurationRules, curate
from pricer.data.dataset import build_dataset
from pricer.data.items import Item
from pricer.data.sources import RawRow, SourceError, read_source, source_fingerprint
from pricer.data.splits import split_items

LONG = "A sturdy and well made product for the kitchen that anyone would enjoy using. " * 4
RULES = CurationRules(min_chars=100, max_text_tokens=160)


def rows(*field_sets):
    return [RawRow(line=i + 1, fields=f) for i, f in enumerate(field_sets)]


def test_each_rule_rejects_with_its_reason(tokenizer):
    result = curate(
        [
            *rows(
                {"text": LONG, "price": 25.0},
                {"text": LONG + " other", "price": "$1,200"},
                {"text": LONG + " cheap", "price": 0.1},
                {"text": LONG + " neg", "price": -3},
                {"text": LONG + " nan", "price": float("nan")},
                {"text": LONG + " word", "price": "twelve"},
                {"text": "   ", "price": 5.0},
                {"text": "too short", "price": 5.0},
                {"text": LONG, "price": 26.0},
                {"price": 5.0},
            ),
            RawRow(line=11, problem="malformed_json"),
        ],
        tokenizer,
        RULES,
    )
    assert result.rows_in == 11
    assert [item.price for item in result.items] == [25.0]
    assert result.rejected == {
        "price_out_of_range": 2,
        "price_negative": 1,
        "price_not_a_number": 2,
        "text_empty": 2,
        "text_too_short": 1,
        "duplicate": 1,
        "malformed_json": 1,
    }
    assert result.rows_kept + sum(result.rejected.values()) == result.rows_in


def test_text_is_cut_to_the_token_budget(tokenizer):
    result = curate(rows({"text": LONG * 20, "price": 10.0}), tokenizer, RULES)
    (item,) = result.items
    assert (
        len(tokenizer(item.text, add_special_tokens=False)["input_ids"])
        <= RULES.max_text_tokens + 1
    )
    assert LONG.startswith(item.text[:50])
    assert result.text_tokens == [RULES.max_text_tokens]


def test_a_ten_megabyte_row_is_cut_not_choked_on(tokenizer):
    result = curate(rows({"text": "word " * 2_000_000, "price": 10.0}), tokenizer, RULES)
    assert result.rows_kept == 1


def test_split_is_deterministic_and_disjoint(tokenizer):
    items = curate(read_source("embedded", catalogue_size=200), tokenizer, RULES).items
    first = split_items(items, 20, 30, seed=3)
    again = split_items(items, 20, 30, seed=3)
    other = split_items(items, 20, 30, seed=4)
    assert first == again
    assert first.test != other.test
    assert (len(first.validation), len(first.test)) == (20, 30)
    texts = [{i.text for i in part} for part in (first.train, first.validation, first.test)]
    assert not (texts[0] & texts[1] or texts[0] & texts[2] or texts[1] & texts[2])
    assert sum(map(len, texts)) == len(items)


def test_catalogue_is_deterministic_and_never_shows_a_price():
    rows_a = generate_catalogue(size=300, seed=5)
    assert rows_a == generate_catalogue(size=300, seed=5)
    assert not any(ch.isdigit() for row in rows_a for ch in row["text"])


def test_the_price_dispersion_moves_prices_the_text_does_not_explain_and_no_text():
    plain = generate_catalogue(size=300, seed=5, price_dispersion=0.0)
    dispersed = generate_catalogue(size=300, seed=5, price_dispersion=0.35)
    assert [row["text"] for row in plain] == [row["text"] for row in dispersed]
    # The rule, read back from each text, is within the ±10% spread of a price without the
    # dispersion, and far from many a price with it.
    rules = rule_prices(row["text"] for row in dispersed)
    assert rules is not None
    pairs = list(zip(plain, dispersed, rules, strict=True))
    assert all(abs(row["price"] / rule - 1) <= 0.1 + 1e-3 for row, _, rule in pairs)
    log_ratios = [math.log(row["price"] / rule) for _, row, rule in pairs]
    assert 0.25 < statistics.stdev(log_ratios) < 0.45
    assert rule_prices(["Stainless steel electric kettle with a rapid boil"]) is None


def test_a_negative_dispersion_is_refused_naming_the_setting(tokenizer):
    with pytest.raises(ValueError, match=r"price_dispersion must be 0 or more, got -0\.1"):
        build_dataset("embedded", tokenizer, RULES, 10, 10, seed=1, price_dispersion=-0.1)


def test_a_catalogue_too_small_for_its_splits_names_the_setting(tokenizer):
    with pytest.raises(SourceError, match=r"raise catalogue_size \(now 30\)"):
        build_dataset("embedded", tokenizer, RULES, 20, 20, seed=1, catalogue_size=30)


def test_file_sources_keep_bad_lines_as_counted_problems(tmp_path, tokenizer):
    path = tmp_path / "products.jsonl"
    path.write_bytes(
        json.dumps({"text": LONG, "price": 12.5}).encode()
        + b"\n"
        + b"{not json\n"
        + b'{"text": "\xff\xfe broken", "price": 3}\n'
        + b"[1, 2]\n"
    )
    result = curate(read_source(str(path)), tokenizer, RULES)
    assert result.rows_kept == 1
    assert result.rejected == {"malformed_json": 2, "invalid_utf8": 1}


def test_csv_and_parquet_sources(tmp_path):
    import pandas as pd

    frame = pd.DataFrame({"text": [LONG, LONG + "x"], "price": [1.5, 2.5]})
    frame.to_csv(tmp_path / "p.csv", index=False)
    frame.to_parquet(tmp_path / "p.parquet")
    for name in ("p.csv", "p.parquet"):
        rows_read = read_source(str(tmp_path / name))
        assert [float(r.fields["price"]) for r in rows_read] == [1.5, 2.5]


def test_whole_source_problems_name_the_file(tmp_path):
    with pytest.raises(SourceError, match=r"missing\.jsonl: file not found"):
        read_source(str(tmp_path / "missing.jsonl"))
    (tmp_path / "p.txt").write_text("hello")
    with pytest.raises(SourceError, match="unsupported file type"):
        read_source(str(tmp_path / "p.txt"))
    (tmp_path / "cols.jsonl").write_text('{"title": "x", "cost": 3}\n')
    with pytest.raises(SourceError, match=r"missing column\(s\) \['text', 'price'\]"):
        read_source(str(tmp_path / "cols.jsonl"))


def test_comma_separated_files_pool_into_one_source(tmp_path):
    first, second = tmp_path / "a.jsonl", tmp_path / "b.csv"
    first.write_text(json.dumps({"text": LONG, "price": 1.5}) + "\n")
    second.write_text(f'text,price\n"{LONG} more",2.5\n')
    rows = read_source(f"{first}, {second}")
    assert [(row.origin, row.line) for row in rows] == [(str(first), 1), (str(second), 2)]
    assert source_fingerprint(f"{first},{second}") != source_fingerprint(str(first))
    with pytest.raises(SourceError, match="empty entry"):
        read_source(f"{first},,{second}")


def test_train_size_caps_training_and_leaves_held_out_splits_alone():
    items = [Item(text=f"item {n}", price=float(n)) for n in range(1, 101)]
    whole = split_items(items, 10, 20, seed=3)
    capped = split_items(items, 10, 20, seed=3, train_size=25)
    assert (capped.validation, capped.test) == (whole.validation, whole.test)
    assert capped.train == whole.train[:25]
