"""Bad product data: every problem is counted by its reason or stops the step with a message that
names the file and the reason, and no good row is ever lost on the way.

Each case is a fixture that writes a real file of good rows with the bad ones among them; the rows
go through the real readers and the real tokenizer, and a file mixing every row-level problem goes
through the product_dataset asset as a user would run it.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pytest

from assets.dataset import product_dataset
from pricer.data.curation import CurationResult, CurationRules, Rejection, curate
from pricer.data.sources import SourceError, read_source
from resources import BaseModelResource

RULES = CurationRules()  # the asset's defaults: $0.50 to $999.49, at least 200 characters
BLURB = (
    "A sturdy stainless steel kettle with a comfortable handle, a wide spout that pours cleanly, "
    "a lid that locks shut, and a base that keeps the counter cool while the water comes to the "
    "boil in a few minutes."
)
TEN_MEGABYTES = 10 * 1024 * 1024


def good_row(n: int) -> dict:
    return {"text": f"Kettle model {n}. {BLURB}", "price": 10 + (n % 97) * 7.5}  # all in range


@dataclass
class BadFile:
    """A file on disk, its good rows, and the rejections it must produce, in file order."""

    path: Path
    good: list[dict]
    expected: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for _, reason in self.expected:
            counts[reason] = counts.get(reason, 0) + 1
        return counts


def write_jsonl(path: Path, lines: list[bytes | dict]) -> None:
    raw = [line if isinstance(line, bytes) else json.dumps(line).encode() for line in lines]
    path.write_bytes(b"\n".join(raw) + b"\n")


def jsonl_case(path: Path, bad: list[tuple[bytes | dict, str]], good_count: int = 6) -> BadFile:
    """Good rows first, then each bad row followed by one more good row, one row a line."""
    lines: list[bytes | dict] = [good_row(n) for n in range(good_count)]
    case = BadFile(path, list(lines))
    for n, (row, reason) in enumerate(bad, start=good_count):
        lines.append(row)
        case.expected.append((len(lines), reason))
        lines.append(good_row(1000 + n))
        case.good.append(lines[-1])
    write_jsonl(path, lines)
    return case


def curate_file(case: BadFile, tokenizer) -> CurationResult:
    return curate(read_source(str(case.path)), tokenizer, RULES)


def assert_counted_and_nothing_good_lost(case: BadFile, result: CurationResult) -> None:
    assert dict(result.rejected) == case.counts()
    assert sorted(result.rejections, key=lambda r: r.line) == [
        Rejection(str(case.path), line, reason) for line, reason in case.expected
    ]
    assert result.rows_kept + sum(result.rejected.values()) == result.rows_in
    assert [(item.text, item.price) for item in result.items] == [
        (row["text"], float(row["price"])) for row in case.good
    ]


# --- one fixture per problem --------------------------------------------------------------------


@pytest.fixture
def bad_prices(tmp_path) -> BadFile:
    text = lambda n: f"Priced badly {n}. {BLURB}"  # noqa: E731
    return jsonl_case(
        tmp_path / "prices.jsonl",
        [
            ({"text": text(1), "price": "twelve dollars"}, "price_not_a_number"),
            ({"text": text(2), "price": {"amount": 12}}, "price_not_a_number"),
            ({"text": text(3), "price": True}, "price_not_a_number"),
            (f'{{"text": "{text(4)}", "price": NaN}}'.encode(), "price_not_a_number"),
            ({"text": text(5), "price": "nan"}, "price_not_a_number"),
            (f'{{"text": "{text(6)}", "price": Infinity}}'.encode(), "price_not_a_number"),
            ({"text": text(7), "price": -3}, "price_negative"),
            ({"text": text(8), "price": "-12.50"}, "price_negative"),
            ({"text": text(9), "price": 0.1}, "price_out_of_range"),
            ({"text": text(10), "price": 1500}, "price_out_of_range"),
            ({"text": text(11), "price": "$1,200.00"}, "price_out_of_range"),
            ({"text": text(12), "price": None}, "price_missing"),
            ({"text": text(13), "price": "  "}, "price_missing"),
            ({"text": text(14)}, "price_missing"),
        ],
    )


@pytest.fixture
def empty_texts(tmp_path) -> BadFile:
    return jsonl_case(
        tmp_path / "texts.jsonl",
        [
            ({"text": "", "price": 10}, "text_empty"),
            ({"text": " \t\n \u00a0 ", "price": 11}, "text_empty"),
            ({"text": None, "price": 12}, "text_empty"),
            ({"price": 13}, "text_empty"),
            ({"text": "a short kettle", "price": 14}, "text_too_short"),
        ],
    )


@pytest.fixture
def invalid_utf8_jsonl(tmp_path) -> BadFile:
    return jsonl_case(
        tmp_path / "latin1.jsonl",
        [
            (f'{{"text": "Caf\xe9 {BLURB}", "price": 20}}'.encode("latin-1"), "invalid_utf8"),
            (b'{"text": "\xff\xfe\xfd", "price": 21}', "invalid_utf8"),
        ],
    )


@pytest.fixture
def invalid_utf8_csv(tmp_path) -> BadFile:
    """A CSV whose third and fifth data rows hold bytes that are not UTF-8."""
    good = [good_row(n) for n in range(5)]
    lines = [b"text,price"]
    lines += [f'"{row["text"]}",{row["price"]}'.encode() for row in good[:2]]
    lines.append(f'"Caf\xe9 {BLURB}",20'.encode("latin-1"))
    lines.append(f'"{good[2]["text"]}",{good[2]["price"]}'.encode())
    lines.append(b'"\xff\xfe broken",21')
    lines += [f'"{row["text"]}",{row["price"]}'.encode() for row in good[3:]]
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"\n".join(lines) + b"\n")
    # CSV rows are numbered as lines of the file: the header is line 1.
    return BadFile(path, good, [(4, "invalid_utf8"), (6, "invalid_utf8")])


@pytest.fixture
def ten_megabyte_row(tmp_path) -> BadFile:
    huge = {"text": f"Kettle giant. {BLURB} " + "steel " * (TEN_MEGABYTES // 6), "price": 49.0}
    case = jsonl_case(tmp_path / "huge.jsonl", [])
    write_jsonl(case.path, [*case.good, huge, good_row(99)])
    assert case.path.stat().st_size > TEN_MEGABYTES
    case.good += [huge, good_row(99)]
    return case


@pytest.fixture
def duplicate_rows(tmp_path) -> BadFile:
    first = good_row(0)
    return jsonl_case(
        tmp_path / "dupes.jsonl",
        [
            (first, "duplicate"),  # the very same row again
            ({"text": first["text"], "price": 99.0}, "duplicate"),  # same text, another price
            ({"text": "  " + first["text"].upper() + "\n", "price": 12.5}, "duplicate"),
            ({"text": first["text"].replace(" ", "  \n "), "price": 12.5}, "duplicate"),
        ],
    )


# --- row problems: counted by reason, every good row kept ---------------------------------------


@pytest.mark.parametrize(
    "case_name",
    ["bad_prices", "empty_texts", "invalid_utf8_jsonl", "invalid_utf8_csv", "duplicate_rows"],
)
def test_each_bad_row_is_counted_by_its_reason(case_name, request, tokenizer):
    case: BadFile = request.getfixturevalue(case_name)
    assert_counted_and_nothing_good_lost(case, curate_file(case, tokenizer))


def test_csv_prices_and_texts_are_judged_as_in_jsonl(tmp_path, tokenizer):
    good = [good_row(n) for n in range(3)]
    lines = ["text,price", *(f'"{row["text"]}",{row["price"]}' for row in good)]
    lines += [f'"Odd {BLURB}",nan', f'"Neg {BLURB}",-4', f'"Empty {BLURB}",', '"   ",10']
    path = tmp_path / "mixed.csv"
    path.write_text("\n".join(lines) + "\n")
    case = BadFile(
        path,
        good,
        [(5, "price_not_a_number"), (6, "price_negative"), (7, "price_missing"), (8, "text_empty")],
    )
    assert_counted_and_nothing_good_lost(case, curate_file(case, tokenizer))


def test_a_ten_megabyte_row_is_cut_to_the_budget_before_tokenizing(ten_megabyte_row, tokenizer):
    longest_text_tokenized = []

    def observed(texts, add_special_tokens=True):
        longest_text_tokenized.append(max(map(len, texts)))
        return tokenizer(texts, add_special_tokens=add_special_tokens)

    observed.decode = tokenizer.decode
    result = curate(read_source(str(ten_megabyte_row.path)), observed, RULES)

    assert result.rows_in == len(ten_megabyte_row.good) and not result.rejected
    giant = next(item for item in result.items if item.text.startswith("Kettle giant."))
    assert BLURB in giant.text
    assert result.text_tokens[result.items.index(giant)] == RULES.max_text_tokens
    # The tokenizer never sees the megabytes: a few thousand characters at most.
    assert max(longest_text_tokenized) < 10_000


# --- whole-file problems: the step stops, naming the file and the reason ------------------------


@pytest.fixture
def missing_file(tmp_path) -> Path:
    return tmp_path / "nowhere" / "products.jsonl"


@pytest.fixture
def wrong_types(tmp_path) -> dict[str, tuple[Path, str]]:
    """Files whose name or content is not a product table, and the exact error each gives."""
    text = tmp_path / "products.txt"
    text.write_text("kettle, 12.50\n")
    csv_in_jsonl = tmp_path / "products.jsonl"
    csv_in_jsonl.write_text(f"text,price\n{BLURB},12.5\n{BLURB} two,13.5\n")
    json_in_parquet = tmp_path / "products.parquet"
    write_jsonl(json_in_parquet, [good_row(1)])
    folder = tmp_path / "products.csv"
    folder.mkdir()
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    return {
        "text": (
            text,
            f"{text}: unsupported file type '.txt'; use one of ('.jsonl', '.json', '.csv', "
            "'.parquet')",
        ),
        "csv_in_jsonl": (csv_in_jsonl, f"{csv_in_jsonl}: no readable rows (3 malformed_json)"),
        "json_in_parquet": (json_in_parquet, f"{json_in_parquet}: cannot be read as parquet: "),
        "folder": (folder, f"{folder}: a directory, not a file; name the files, comma-separated"),
        "empty": (empty, f"{empty}: no readable rows (an empty file)"),
    }


@pytest.fixture
def missing_columns(tmp_path) -> dict[str, tuple[Path, str]]:
    no_price = tmp_path / "no_price.jsonl"
    write_jsonl(no_price, [{"text": BLURB, "title": "kettle"}, {"text": BLURB + " two"}])
    no_text = tmp_path / "no_text.csv"
    no_text.write_text("description,cost\nkettle,12.5\n")
    return {
        "price": (no_price, f"{no_price}: missing column(s) ['price']; found ['text', 'title']"),
        "both": (
            no_text,
            f"{no_text}: missing column(s) ['text', 'price']; found ['cost', 'description']",
        ),
    }


def test_a_missing_file_is_named(missing_file):
    with pytest.raises(SourceError) as failed:
        read_source(str(missing_file))
    assert str(failed.value) == f"{missing_file}: file not found"


def test_a_file_of_the_wrong_type_is_named_with_its_problem(wrong_types):
    for path, message in wrong_types.values():
        with pytest.raises(SourceError) as failed:
            read_source(str(path))
        assert str(failed.value).startswith(message), path


def test_missing_columns_are_named_with_what_the_file_has(missing_columns):
    for path, message in missing_columns.values():
        with pytest.raises(SourceError) as failed:
            read_source(str(path))
        assert str(failed.value) == message


def test_a_bad_file_among_several_is_the_one_named(tmp_path, missing_columns):
    good = tmp_path / "good.jsonl"
    write_jsonl(good, [good_row(n) for n in range(3)])
    bad, message = missing_columns["price"]
    with pytest.raises(SourceError) as failed:
        read_source(f"{good},{bad}")
    assert str(failed.value) == message


# --- through the asset, as a user runs it -------------------------------------------------------


def materialize(source: str, pricer_home: Path) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [product_dataset],
        resources={"base_model": BaseModelResource(cache_dir=str(pricer_home))},
        run_config={
            "ops": {
                "product_dataset": {
                    "config": {"source": source, "validation_size": 5, "test_size": 5}
                }
            }
        },
        raise_on_error=False,
    )


def test_a_file_mixing_every_row_problem_is_counted_in_the_assets_metadata(
    bad_prices,
    empty_texts,
    invalid_utf8_jsonl,
    ten_megabyte_row,
    duplicate_rows,
    invalid_utf8_csv,
    tmp_path,
    pricer_home,
    model_path,
):
    cases = [bad_prices, empty_texts, invalid_utf8_jsonl, ten_megabyte_row, duplicate_rows]
    # One JSONL file holding every case's rows in turn, plus the CSV pooled beside it.
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_bytes(b"".join(case.path.read_bytes() for case in cases))
    rows_in = sum(len(case.path.read_bytes().splitlines()) for case in [*cases, invalid_utf8_csv])
    rows_in -= 1  # the CSV header
    # Cases repeat good_row(n) for small n, so beyond its own duplicates the file holds more.
    good = {(row["text"], float(row["price"])): None for c in cases for row in c.good}
    repeats = sum(len(c.good) for c in cases) - len(good)

    result = materialize(f"{mixed},{invalid_utf8_csv.path}", pricer_home)

    assert result.success
    metadata = {
        key: value.value
        for key, value in result.asset_materializations_for_node("product_dataset")[
            0
        ].metadata.items()
    }
    expected: dict[str, int] = {}
    for case in [*cases, invalid_utf8_csv]:
        for reason, count in case.counts().items():
            expected[f"rejected_{reason}"] = expected.get(f"rejected_{reason}", 0) + count
    csv_good = [(row["text"], float(row["price"])) for row in invalid_utf8_csv.good]
    repeats += sum(key in good for key in csv_good)  # the CSV's good rows repeat good_row(n) too
    expected["rejected_duplicate"] += repeats
    rejected = {key: value for key, value in metadata.items() if key.startswith("rejected_")}
    assert rejected == expected
    assert metadata["rows_in"] == rows_in
    assert metadata["rows_rejected"] == sum(expected.values())
    assert metadata["rows_kept"] + metadata["rows_rejected"] == metadata["rows_in"]
    # The same counts as a table in the UI, each reason with where its first rows are.
    table = {row.data["reason"]: row.data for row in metadata["rejections"].records}
    assert {f"rejected_{reason}": row["count"] for reason, row in table.items()} == expected
    first_lines = {}
    for rejection in result.output_for_node("product_dataset").curation.rejections:
        first_lines.setdefault(rejection.reason, []).append(f"{rejection.origin}:{rejection.line}")
    assert {reason: row["examples"] for reason, row in table.items()} == {
        reason: ", ".join(lines[:3]) for reason, lines in first_lines.items()
    }

    dataset = result.output_for_node("product_dataset")
    kept = {(item.text, item.price) for item in dataset.curation.items}
    giant = next(t for t, _ in kept if t.startswith("Kettle giant."))
    assert (giant, 49.0) in kept
    del good[next(key for key in good if key[0].startswith("Kettle giant."))]
    assert kept == set(good) | {(giant, 49.0)}  # every good row, the giant one cut to budget
    assert metadata["rows_kept"] == len(kept)
    assert {r.origin for r in dataset.curation.rejections} == {
        str(mixed),
        str(invalid_utf8_csv.path),
    }


@pytest.mark.parametrize("problem", ["missing", "wrong_type", "missing_columns"])
def test_a_bad_file_fails_the_step_naming_file_and_reason(
    problem, missing_file, wrong_types, missing_columns, pricer_home, model_path
):
    path, message = {
        "missing": (missing_file, f"{missing_file}: file not found"),
        "wrong_type": wrong_types["text"],
        "missing_columns": missing_columns["price"],
    }[problem]

    result = materialize(str(path), pricer_home)

    assert not result.success
    (failure,) = [event for event in result.all_events if event.is_step_failure]
    # A Dagster failure the UI shows as the source's message, the file beside it; no traceback
    # of the reader's insides.
    reported = failure.step_failure_data.user_failure_data
    assert reported.description == message
    assert reported.metadata["file"].value == str(path)
    assert failure.step_failure_data.error.cause is None
    assert not result.get_asset_materialization_events()


def test_a_source_whose_every_row_is_rejected_fails_with_the_reasons(tmp_path, pricer_home):
    path = tmp_path / "all_bad.jsonl"
    cheap = {"text": f"Kettle model 1. {BLURB}", "price": 0.10}
    write_jsonl(path, [cheap, {"text": "short", "price": 20}, cheap | {"price": 0.2}])

    result = materialize(str(path), pricer_home)

    assert not result.success
    (failure,) = [event for event in result.all_events if event.is_step_failure]
    reported = failure.step_failure_data.user_failure_data.description
    assert reported == (
        f"{path}: 0 of 3 rows kept, too few for 5 validation and 5 test items and some to train "
        f"on; rejected: price_out_of_range 2 (first at {path}:1), text_too_short 1 (first at "
        f"{path}:2)"
    )
    assert not result.get_asset_materialization_events()
