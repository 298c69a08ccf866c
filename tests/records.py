"""Epoch records made up for tests of what reads them: selection, tables, reports, model cards."""

from pathlib import Path

from pricer.evaluation.epoch_record import EpochRecord
from pricer.evaluation.metrics import Scores
from pricer.hub.base import HubRevision
from pricer.training.settings import TrainingSettings
from pricer.training.trained_epoch import StepHistory

RUN_KEY = "pricer-2026-11-25_18.07.32"


def scores(error: float, rmsle: float = 0.75, hit_rate: float = 0.5, count: int = 40) -> Scores:
    return Scores(mean_abs_error=error, rmsle=rmsle, hit_rate=hit_rate, no_number=0, count=count)


def epoch_record(
    epoch: int,
    train_loss: float,
    validation: Scores | float,
    test: Scores | float | None = None,
    weighted: tuple[Scores, Scores] | None = None,
    tolerance: float = 0.02,
    precision: str = "fp32",
    validation_loss: float = 0.9,
) -> EpochRecord:
    validation = validation if isinstance(validation, Scores) else scores(validation)
    if test is None:
        test = scores(validation.mean_abs_error + 5)
    test = test if isinstance(test, Scores) else scores(test)
    weighted = weighted or (validation, test)
    return EpochRecord(
        run_key=RUN_KEY,
        epoch=epoch,
        train_loss=train_loss,
        validation_loss=validation_loss,
        validation=validation,
        test=test,
        weighted_validation=weighted[0],
        weighted_test=weighted[1],
        revision=HubRevision(RUN_KEY, f"{epoch:040x}", f"file:///hub/{RUN_KEY}"),
        settings=TrainingSettings(overfit_tolerance=tolerance),
        predictions=Path(f"predictions/epoch_{epoch}.json"),
        precision=precision,
        history=StepHistory(
            [(step, train_loss + 0.1 / step) for step in range(1, 4 * epoch + 1)],
            [(step, 1e-3 * (1 - step / (4 * epoch + 1))) for step in range(1, 4 * epoch + 1)],
            [4 * e for e in range(1, epoch + 1)],
        ),
    )
