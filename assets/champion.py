"""The champion across training runs: a run's checkpoint challenges it, a blocking check judges the
challenge, and only a checkpoint that passes becomes the champion."""

from collections.abc import Callable
from pathlib import Path

import dagster as dg
from pydantic import Field

from assets.epoch_keys import adapter_key
from pricer.data.dataset import CuratedDataset
from pricer.evaluation.baselines import MEDIAN, BaselineScores
from pricer.evaluation.epoch_record import read_records
from pricer.evaluation.selection import select
from pricer.model.spec import BaseModelSpec
from pricer.release.champion import (
    CHAMPION_TAG,
    Challenge,
    ChampionPointer,
    DamagedPointer,
    promote,
    read_champion,
    rescore_champion,
)
from resources import ComputeResource, HubResource

BEST_CHECKPOINT = "best_checkpoint"


class ChallengeConfig(dg.Config):
    run: str = Field(
        default="", description="the training run to put forward; default: the latest one chosen"
    )
    epoch: int = Field(default=0, description="that run's epoch to put forward; 0: its best")


@dg.asset(deps=[BEST_CHECKPOINT], group_name="release", kinds={"pytorch"}, code_version="1")
def challenger(
    context: dg.AssetExecutionContext,
    config: ChallengeConfig,
    product_dataset: CuratedDataset,
    quantized_base_model: BaseModelSpec,
    baseline_scores: BaselineScores,
    hub: HubResource,
    compute: ComputeResource,
) -> dg.Output[Challenge]:
    """A training run's best checkpoint against the current champion, the champion re-scored on
    the run's own validation split so that both are judged on the same items."""
    run_key = config.run or _latest_chosen_run(context)
    if _newest(context, BEST_CHECKPOINT, run_key) is None:
        raise dg.Failure(f"{run_key} has no best checkpoint: run select_best for it first")
    # The run's ledger, and the rule best_checkpoint chose by: the same choice, at full precision.
    records = {r.epoch: r for r in read_records(compute.run_dir(run_key))}
    if not records:
        raise dg.Failure(
            f"{run_key} has no scored epochs in {compute.run_dir(run_key)}: this PRICER_HOME is "
            "not the one it trained in; set PRICER_HOME to that one, or train the run here"
        )
    epoch = config.epoch or select(list(records.values())).chosen
    if epoch not in records:
        raise dg.Failure(f"{run_key} has no scored checkpoint for epoch {epoch}")
    record = records[epoch]
    # The champion is re-scored on the current dataset's validation split: it must be this run's.
    trained_on = _input_version(context, adapter_key(epoch), run_key, "product_dataset")
    if trained_on != product_dataset.version:
        raise dg.Failure(
            f"{run_key} trained on dataset {trained_on}, but product_dataset is now "
            f"{product_dataset.version}: its validation split is gone, so it cannot be judged"
        )
    candidate = ChampionPointer(
        repo_id=record.revision.repo_id,
        revision=record.revision.revision,  # the adapter with its model card
        run_key=run_key,
        epoch=epoch,
        hub=hub.kind,
        base_model=quantized_base_model.model_id,
        scores={"validation_error": record.validation_error, "test_error": record.test_error},
    )
    try:
        champion = read_champion(compute.root())
    except DamagedPointer as error:
        raise dg.Failure(str(error)) from None
    champion_error = None
    if champion is not None and not candidate.same_checkpoint(champion):
        context.log.info(f"re-scoring the champion {champion.repo_id}@{champion.revision[:12]}")
        champion_error = rescore_champion(
            champion,
            candidate,
            hub.store(),
            quantized_base_model.path,
            product_dataset.splits.validation,
            compute.run_dir(champion.run_key) / "revisions" / champion.revision,
            device=compute.device,
            batch_size=compute.scoring_batch_size(),
            progress=context.log.info,
            precision=quantized_base_model.precision,
            home=compute.root(),
        )
    challenge = Challenge(
        candidate=candidate,
        candidate_error=candidate.scores["validation_error"],
        median_error=baseline_scores[MEDIAN]["validation"].mean_abs_error,
        champion=champion,
        champion_error=champion_error,
    )
    verdict = challenge.verdict()
    context.log.info(verdict.reason)
    return dg.Output(
        challenge,
        metadata={
            "run": run_key,
            "epoch": epoch,
            "revision": candidate.revision,
            "validation_error": dg.MetadataValue.float(round(challenge.candidate_error, 4)),
            "champion": f"{champion.run_key} epoch {champion.epoch}" if champion else "none yet",
            "champion_validation_error": dg.MetadataValue.float(round(champion_error, 4))
            if champion_error is not None
            else "not re-scored",
            "median_constant_validation_error": dg.MetadataValue.float(
                round(challenge.median_error, 4)
            ),
            "verdict": verdict.reason,
        },
    )


def _newest(
    context: dg.AssetExecutionContext, asset: str, partition: str
) -> dg.AssetMaterialization | None:
    """The newest materialization of one partition of `asset`, if it has one."""
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[partition]),
        limit=1,
        ascending=False,
    ).records
    return records[0].asset_materialization if records else None


def _latest_chosen_run(context: dg.AssetExecutionContext) -> str:
    records = context.instance.fetch_materializations(
        dg.AssetKey(BEST_CHECKPOINT), limit=1, ascending=False
    ).records
    if not records or records[0].partition_key is None:
        raise dg.Failure("no training run has a best checkpoint yet: run select_best first")
    return records[0].partition_key


def _input_version(
    context: dg.AssetExecutionContext, asset: str, partition: str, upstream: str
) -> str | None:
    """The data version of `upstream` that an asset partition's newest materialization read."""
    materialization = _newest(context, asset, partition)
    if materialization is None:
        return None
    provenance = dg.DataProvenance.from_tags(materialization.tags or {})
    version = provenance.input_data_versions.get(dg.AssetKey(upstream)) if provenance else None
    return version.value if version else None


@dg.asset_check(asset=challenger, blocking=True)
def beats_champion_and_median(challenger: Challenge) -> dg.AssetCheckResult:
    """The challenger must price the run's validation items better than the champion (re-scored
    on them) and than always guessing the training median; a failure keeps the champion."""
    verdict = challenger.verdict()
    return dg.AssetCheckResult(
        passed=verdict.promote,
        description=verdict.reason,
        metadata={
            "challenger_validation_error": round(challenger.candidate_error, 4),
            "champion_validation_error": round(challenger.champion_error, 4)
            if challenger.champion_error is not None
            else "no champion to beat",
            "median_constant_validation_error": round(challenger.median_error, 4),
        },
    )


@dg.asset(group_name="release", kinds={"huggingface"}, code_version="2")
def champion(
    context: dg.AssetExecutionContext,
    hub: HubResource,
    compute: ComputeResource,
    challenger: Challenge,
    quantized_base_model: BaseModelSpec,
) -> dg.Output[ChampionPointer]:
    """The best checkpoint across training runs: a pointer file in the pricer home that
    `pricer predict` reads, and the `champion` tag on its revision in its run's hub repo (taken
    off the previous champion's repo). On the CPU its base is saved ready to price, so the first
    `pricer predict` after a promotion takes a second, not half a minute."""
    # The blocking check stops this step in the same run; this stops a run that selects it alone.
    try:
        promoted = promote(hub.store(), compute.root(), challenger, warn=context.log.warning)
    except ValueError as refused:
        raise dg.Failure(str(refused)) from None
    context.log.info(f"promoted: {challenger.verdict().reason}")
    try:
        ready = _ready_copy(compute, quantized_base_model, context.log.info)
    except Exception as error:  # the promotion has happened: predict then makes the copy itself
        context.log.warning(f"the base's ready copy was not saved ({error}); predict will")
        ready = None
    winner = challenger.candidate
    # The pointer's revision is the champion's version: a new champion is a new version.
    version = dg.DataVersion(winner.revision)
    return dg.Output(
        winner,
        data_version=version,
        metadata={
            "run": winner.run_key,
            "epoch": winner.epoch,
            "repo_id": winner.repo_id,
            "revision": winner.revision,
            "hub_tag": CHAMPION_TAG,
            "tag_removed_from": promoted.untagged or "no other repo",
            "validation_error": dg.MetadataValue.float(round(winner.scores["validation_error"], 4)),
            "test_error": dg.MetadataValue.float(round(winner.scores["test_error"], 4)),
            "pointer": dg.MetadataValue.path(str(promoted.pointer)),
            "ready_copy": dg.MetadataValue.path(str(ready)) if ready else "none",
        },
    )


def _ready_copy(
    compute: ComputeResource, base: BaseModelSpec, say: Callable[[str], None]
) -> Path | None:
    """The base as `pricer predict` prices with it on the CPU (model/ready_copy.py), made now
    if this machine has none; None on a GPU, where predict loads the 4-bit base as scoring does."""
    from pricer.model.device import pick_device  # torch: only in the step that promotes
    from pricer.model.ready_copy import find_ready_copy, ready_copy_folder, write_ready_copy

    if pick_device(compute.device) != "cpu":
        return None
    folder = ready_copy_folder(compute.root(), base.path, base.precision)
    if find_ready_copy(folder) is None:
        say(f"saving the base ready to price in {folder}")
        write_ready_copy(base.path, folder, base.precision)
    return folder
