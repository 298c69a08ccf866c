import dagster as dg

from assets.metadata import scores as scores_metadata
from assets.metadata import slug
from pricer.data.dataset import CuratedDataset
from pricer.evaluation.baselines import (
    NOISE_FLOOR,
    RIDGE,
    UNTRAINED,
    WEIGHTED_UNTRAINED,
    BaselineScores,
    constant_scores,
    noise_floor_scores,
    ridge_scores,
)
from pricer.model.spec import BaseModelSpec
from resources import ComputeResource


@dg.asset(group_name="evaluation", kinds={"scikitlearn", "pytorch"}, code_version="1")
def baseline_scores(
    context: dg.AssetExecutionContext,
    product_dataset: CuratedDataset,
    quantized_base_model: BaseModelSpec,
    compute: ComputeResource,
) -> BaselineScores:
    """What every checkpoint must beat, on the same validation and test items: the training
    median and mean, a ridge regression on TF-IDF, and the untrained quantized base model (its
    greedy and its probability-weighted price). On the embedded catalogue, also its noise floor:
    the rule price's error, which no model can beat."""
    from pricer.evaluation.scoring import evaluate_model  # torch: imported by the steps that use it

    splits = product_dataset.splits
    held_out = {"validation": splits.validation, "test": splits.test}
    results: BaselineScores = {}
    for split, items in held_out.items():
        for name, value in constant_scores(splits.train, items).items():
            results.setdefault(name, {})[split] = value
        results.setdefault(RIDGE, {})[split] = ridge_scores(splits.train, items)
        floor = noise_floor_scores(items)
        if floor is not None:
            results.setdefault(NOISE_FLOOR, {})[split] = floor
    untrained = evaluate_model(
        quantized_base_model.path,
        held_out,
        device=compute.device,
        batch_size=compute.scoring_batch_size(),
        progress=context.log.info,
        weighted=True,
        precision=quantized_base_model.precision,
        home=compute.root(),
    )
    metadata: dict[str, dg.MetadataValue] = {}
    for split, evaluation in untrained.items():
        assert evaluation.weighted is not None
        results.setdefault(UNTRAINED, {})[split] = evaluation.scores
        results.setdefault(WEIGHTED_UNTRAINED, {})[split] = evaluation.weighted.scores
        metadata[f"{slug(WEIGHTED_UNTRAINED)}_{split}_fallbacks"] = dg.MetadataValue.int(
            evaluation.weighted.fallbacks
        )
    for name, by_split in results.items():
        for split, value in by_split.items():
            metadata.update(scores_metadata(f"{slug(name)}_{split}", value))
    context.add_output_metadata(metadata)
    return results
