"""The quality report's table and verdicts, from epoch records and baseline scores alone (no model,
no Dagster)."""

from records import epoch_record, scores

from pricer.evaluation.baselines import MEAN, MEDIAN, RIDGE, UNTRAINED, WEIGHTED_UNTRAINED
from pricer.evaluation.quality_report import best_on_test, quality_report, quality_table
from pricer.evaluation.selection import Selection


def split_scores(validation: float, test: float, weighted: bool = False) -> dict:
    if weighted:
        return {"validation": scores(validation - 5, 0.5, 0.6), "test": scores(test - 5, 0.5, 0.6)}
    return {"validation": scores(validation, 0.75, 0.5), "test": scores(test, 0.8, 0.25)}


BASELINES = {
    MEDIAN: split_scores(90.0, 95.0),
    MEAN: split_scores(95.0, 99.0),
    RIDGE: split_scores(60.0, 70.0),
    UNTRAINED: split_scores(300.0, 310.0),
    WEIGHTED_UNTRAINED: split_scores(300.0, 310.0, weighted=True),
}


def record(epoch: int, validation: float, test: float):
    greedy, weighted = split_scores(validation, test), split_scores(validation, test, True)
    return epoch_record(
        epoch,
        1.0 / epoch,
        greedy["validation"],
        greedy["test"],
        (weighted["validation"], weighted["test"]),
    )


EPOCHS = [record(1, 80.0, 82.0), record(2, 70.0, 75.0), record(3, 72.0, 74.0)]
CHOSEN_2_ONSET_3 = Selection(2, 3)


def table_rows(markdown: str) -> list[list[str]]:
    lines = [line for line in markdown.splitlines() if line.startswith("| ")][1:]  # no header
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]


def test_one_row_per_baseline_then_per_epoch_with_both_splits():
    rows = table_rows(quality_table(BASELINES, EPOCHS, CHOSEN_2_ONSET_3))
    assert [r[0] for r in rows] == [
        MEDIAN,
        MEAN,
        RIDGE,
        UNTRAINED,
        "epoch 1",
        "epoch 2",
        "epoch 3",
    ]
    assert rows[2][1:7] == ["60.00", "0.750", "50.0%", "70.00", "0.800", "25.0%"]


def test_language_model_rows_show_greedy_beside_weighted():
    rows = table_rows(quality_table(BASELINES, EPOCHS, CHOSEN_2_ONSET_3))
    assert rows[0][1] == "90.00"  # a constant has one predictor
    assert rows[3][1] == "300.00 / 295.00"
    assert rows[5][1:7] == [
        "70.00 / 65.00",
        "0.750 / 0.500",
        "50.0% / 60.0%",
        "75.00 / 70.00",
        "0.800 / 0.500",
        "25.0% / 60.0%",
    ]


def test_chosen_and_onset_epochs_are_marked():
    rows = {r[0]: r[-1] for r in table_rows(quality_table(BASELINES, EPOCHS, CHOSEN_2_ONSET_3))}
    assert rows["epoch 2"] == "**chosen**"
    assert rows["epoch 3"] == "overfitting starts"
    assert rows["epoch 1"] == rows[MEDIAN] == ""


def test_report_says_whether_test_agrees_with_the_choice():
    assert best_on_test(EPOCHS) == 3
    disagrees = quality_report(BASELINES, EPOCHS, CHOSEN_2_ONSET_3, [])
    chosen = "Epoch 2 is chosen on the probability-weighted price's validation $ error; on test, "
    assert f"{chosen}epoch 3 would have been" in disagrees
    assert "Overfitting set in at epoch 3." in disagrees
    agrees = quality_report(BASELINES, [EPOCHS[1]], Selection(2, None), [])
    assert "it is also the best epoch on test" in agrees
    assert "No overfitting was seen." in agrees


def test_figures_are_linked_under_their_titles():
    report = quality_report(BASELINES, EPOCHS, CHOSEN_2_ONSET_3, [("Scatter", "scatter.png")])
    assert "## Scatter\n\n![Scatter](scatter.png)" in report
