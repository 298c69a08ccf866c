import dagster as dg

from assets.metadata import scores as scores_metadata
from assets.metadata import slug
from pricer.baselines import constant_scores, ridge_scores
from pricer.dataset import CuratedDataset
from pricer.metrics import Scores
from pricer.runs import BaseModelSpec
from resources import ComputeResource

UNTRAINED = "untrained base model"


@dg.asset(group_name="evaluation", kinds={"scikitlearn", "pytorch"}, code_version="1")
def baseline_scores(
    context: dg.AssetExecutionContext,
    product_dataset: CuratedDataset,
    quantized_base_model: BaseModelSpec,
    compute: ComputeResource,
) -> dict[str, dict[str, Scores]]:
    """What every checkpoint must beat, on the same validation and test items: the training
    median and mean, a ridge regression on TF-IDF, and the untrained quantized base model."""
    from pricer.evaluation import evaluate_model  # torch: imported by the steps that use it

    splits = product_dataset.splits
    held_out = {"validation": splits.validation, "test": splits.test}
    results: dict[str, dict[str, Scores]] = {}
    for split, items in held_out.items():
        for name, value in constant_scores(splits.train, items).items():
            results.setdefault(name, {})[split] = value
        results.setdefault("ridge on TF-IDF", {})[split] = ridge_scores(splits.train, items)
    untrained = evaluate_model(
        quantized_base_model.path,
        held_out,
        device=compute.device,
        batch_size=compute.eval_batch_size,
        progress=context.log.info,
    )
    results[UNTRAINED] = {split: evaluation.scores for split, evaluation in untrained.items()}
    metadata: dict[str, dg.MetadataValue] = {}
    for name, by_split in results.items():
        for split, value in by_split.items():
            metadata.update(scores_metadata(f"{slug(name)}_{split}", value))
    context.add_output_metadata(metadata)
    return results
