"""The quality report's table and verdicts, from scores alone (no model, no Dagster)."""

from pricer.evaluation.metrics import score
from pricer.evaluation.quality_report import Cell, Row, best_on_test, quality_report, quality_table


def row(model: str, validation: float, test: float, weighted: bool = False) -> Row:
    weighted_cells = (
        (Cell(validation - 5, 0.5, 0.6), Cell(test - 5, 0.5, 0.6)) if weighted else None
    )
    return Row(model, Cell(validation, 0.75, 0.5), Cell(test, 0.8, 0.25), weighted_cells)


BASELINES = [
    row("median constant", 90.0, 95.0),
    row("ridge on TF-IDF", 60.0, 70.0),
    row("untrained base model", 300.0, 310.0, weighted=True),
]
EPOCHS = {1: row("epoch 1", 80.0, 82.0, True), 2: row("epoch 2", 70.0, 75.0, True)}
EPOCHS[3] = row("epoch 3", 72.0, 74.0, True)


def table_rows(markdown: str) -> list[list[str]]:
    lines = [line for line in markdown.splitlines() if line.startswith("| ")][1:]  # no header
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]


def test_one_row_per_baseline_then_per_epoch_with_both_splits():
    rows = table_rows(quality_table(BASELINES, EPOCHS, chosen=2, onset=3))
    assert [r[0] for r in rows] == [
        "median constant",
        "ridge on TF-IDF",
        "untrained base model",
        "epoch 1",
        "epoch 2",
        "epoch 3",
    ]
    assert rows[1][1:7] == ["60.00", "0.750", "50.0%", "70.00", "0.800", "25.0%"]


def test_language_model_rows_show_greedy_beside_weighted():
    rows = table_rows(quality_table(BASELINES, EPOCHS, chosen=2, onset=3))
    assert rows[0][1] == "90.00"  # a constant has one predictor
    assert rows[4][1:7] == [
        "70.00 / 65.00",
        "0.750 / 0.500",
        "50.0% / 60.0%",
        "75.00 / 70.00",
        "0.800 / 0.500",
        "25.0% / 60.0%",
    ]


def test_chosen_and_onset_epochs_are_marked():
    rows = {r[0]: r[-1] for r in table_rows(quality_table(BASELINES, EPOCHS, chosen=2, onset=3))}
    assert rows["epoch 2"] == "**chosen**"
    assert rows["epoch 3"] == "overfitting starts"
    assert rows["epoch 1"] == rows["median constant"] == ""


def test_report_says_whether_test_agrees_with_the_choice():
    assert best_on_test(EPOCHS) == 3
    disagrees = quality_report("run-a", BASELINES, EPOCHS, 2, 3, [])
    assert "Epoch 2 is chosen on validation $ error; on test, epoch 3 would have been" in disagrees
    assert "Overfitting set in at epoch 3." in disagrees
    agrees = quality_report("run-a", BASELINES, {2: EPOCHS[2]}, 2, None, [])
    assert "it is also the best epoch on test" in agrees
    assert "No overfitting was seen." in agrees


def test_figures_are_linked_under_their_titles():
    report = quality_report("run-a", BASELINES, EPOCHS, 2, 3, [("Scatter", "scatter.png")])
    assert "## Scatter\n\n![Scatter](scatter.png)" in report


def test_cells_read_the_course_metrics():
    scores = score([100.0, 10.0], [130.0, 50.0])
    assert Cell.of(scores) == Cell(35.0, scores.rmsle, 0.5)
