"""Two checks on every epoch's scores, run by `select_best`:

- `within_best_tolerance` fails for the epochs at and after the run's onset of overfitting (the
  validation $ error rising past the best), so the lineage graph marks them red. Severity ERROR,
  because Dagster 1.13 colours a node only for a failed ERROR check.
- `validation_loss_not_rising`, the early warning, fails at WARN (yellow, in the node's check
  row) for the epochs at and after validation loss rose past its lowest while training loss fell:
  the adapter memorising its training items, often epochs before the $ error turns.

Partitioned by training run,
like the scores it judges: each run's verdict on its epoch k stays on that run's partition, and a
retraining run never overwrites an earlier run's. The node's colour then gathers every judged run
(red if epoch k overfitted in any of them); the partition's page gives each run's own answer.
"""

import math
from collections.abc import Iterator

import dagster as dg

from assets.epoch_keys import scores_key
from assets.partitions import training_runs
from pricer.evaluation.epoch_record import read_records
from pricer.evaluation.selection import Selection, select
from resources import ComputeResource

CHECK_NAME = "within_best_tolerance"
WARNING_NAME = "validation_loss_not_rising"


def build_overfitting_marks(max_epochs: int) -> dg.AssetChecksDefinition:
    epochs = range(1, max_epochs + 1)
    specs = [_spec(epoch) for epoch in epochs] + [_warning_spec(epoch) for epoch in epochs]

    # can_subset: a run that trained fewer than max_epochs epochs has nothing to say about the
    # others, and says nothing rather than a made-up pass.
    @dg.multi_asset_check(specs=specs, can_subset=True, name="overfitting_marks")
    def overfitting_marks(
        context: dg.AssetCheckExecutionContext, compute: ComputeResource
    ) -> Iterator[dg.AssetCheckResult]:
        run_key = context.partition_key
        records = read_records(compute.run_dir(run_key), through_epoch=max_epochs)
        if not records:
            raise dg.Failure(f"no epoch of {run_key} has been scored yet: run training_run first")
        selection = select(records)
        best = min(r.validation_error for r in records)
        tolerance = records[-1].settings.overfit_tolerance
        for record in records:
            overfitted = selection.overfitted(record.epoch)
            yield dg.AssetCheckResult(
                asset_key=scores_key(record.epoch),
                check_name=CHECK_NAME,
                passed=not overfitted,
                severity=dg.AssetCheckSeverity.ERROR,
                description=_verdict(record.epoch, selection),
                metadata={
                    "validation_error": dg.MetadataValue.float(round(record.validation_error, 4)),
                    "above_best": f"{record.validation_error / best - 1:+.1%}",
                    "tolerance": f"{tolerance:.0%}",
                    "chosen_epoch": selection.chosen,
                    "overfitting_onset": selection.onset or "none seen",
                },
            )
        known_losses = [r.validation_loss for r in records if not math.isnan(r.validation_loss)]
        lowest = min(known_losses, default=math.nan)
        for record in records:
            memorising = selection.memorising(record.epoch)
            yield dg.AssetCheckResult(
                asset_key=scores_key(record.epoch),
                check_name=WARNING_NAME,
                passed=not memorising,
                severity=dg.AssetCheckSeverity.WARN,
                description=_warning(record.epoch, selection),
                metadata={
                    "validation_loss": dg.MetadataValue.float(round(record.validation_loss, 5)),
                    "above_lowest": f"{record.validation_loss / lowest - 1:+.1%}",
                    "tolerance": f"{tolerance:.0%}",
                    "validation_loss_rising_since": selection.loss_rising or "not rising",
                },
            )

    return overfitting_marks


def _spec(epoch: int) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        CHECK_NAME,
        asset=scores_key(epoch),
        partitions_def=training_runs,
        description="Fails for the run's onset of overfitting and every epoch after it. The onset "
        "is the first epoch after the best whose validation error is above the best by more than "
        "the run's tolerance while its training loss still fell. Run by select_best.",
    )


def _warning_spec(epoch: int) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        WARNING_NAME,
        asset=scores_key(epoch),
        partitions_def=training_runs,
        description="Warns, from the first epoch after validation loss's lowest whose validation "
        "loss is above it by more than the run's tolerance while training loss still fell: the "
        "adapter memorising its training items. Run by select_best.",
    )


def _warning(epoch: int, selection: Selection) -> str:
    if selection.memorising(epoch):
        return (
            f"Validation loss rising since epoch {selection.loss_rising} while training loss "
            "falls: the adapter is memorising."
        )
    return f"Validation loss is not rising at epoch {epoch}."


def _verdict(epoch: int, selection: Selection) -> str:
    if epoch == selection.chosen:
        return f"Epoch {epoch} is the run's chosen checkpoint."
    if selection.overfitted(epoch):
        return f"Epoch {epoch} is overfitted: overfitting set in at epoch {selection.onset}."
    return f"Epoch {epoch} is not overfitted; epoch {selection.chosen} was chosen."
