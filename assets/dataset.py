import dagster as dg
from pydantic import Field

from assets.metadata import image
from pricer.curation import CurationRules
from pricer.dataset import CuratedDataset, build_dataset
from pricer.plots import price_histogram
from resources import BaseModelResource

_RULES = CurationRules()


class DatasetConfig(dg.Config):
    source: str = Field(
        default="embedded",
        description="embedded, a .jsonl/.csv/.parquet path (several, comma-separated, are "
        "pooled), or a Hugging Face dataset id",
    )
    catalogue_size: int = Field(default=400, description="rows generated for the embedded source")
    min_price: float = _RULES.min_price
    max_price: float = _RULES.max_price
    min_chars: int = Field(default=_RULES.min_chars, description="shorter texts are rejected")
    max_text_tokens: int = Field(
        default=_RULES.max_text_tokens, description="text is cut to this many tokens"
    )
    validation_size: int = 50
    test_size: int = 50
    train_size: int = Field(default=0, description="cap on training items; 0 trains on the rest")
    seed: int = 42


@dg.asset(group_name="data", kinds={"pandas"}, code_version="1")
def product_dataset(
    context: dg.AssetExecutionContext, config: DatasetConfig, base_model: BaseModelResource
) -> dg.Output[CuratedDataset]:
    """Products curated by the course's recipe (price range, minimum text, text cut to a token
    budget with the base model's tokenizer, duplicates removed) and split into train, validation
    and test. Every rejected row is counted by reason."""
    from pricer.quantization import load_tokenizer  # transformers: only in this step

    rules = CurationRules(
        config.min_price, config.max_price, config.min_chars, config.max_text_tokens
    )
    dataset = build_dataset(
        config.source,
        load_tokenizer(base_model.path()),
        rules,
        config.validation_size,
        config.test_size,
        config.seed,
        config.catalogue_size,
        config.train_size,
    )
    curation, splits = dataset.curation, dataset.splits
    context.log.info(f"kept {curation.rows_kept} of {curation.rows_in} rows from {config.source}")
    rejected = {
        f"rejected_{reason}": dg.MetadataValue.int(n) for reason, n in curation.rejected.items()
    }
    return dg.Output(
        dataset,
        data_version=dg.DataVersion(dataset.version),
        metadata={
            "source": config.source,
            "rows_in": curation.rows_in,
            "rows_kept": curation.rows_kept,
            "rows_rejected": sum(curation.rejected.values()),
            **rejected,
            "train_items": len(splits.train),
            "validation_items": len(splits.validation),
            "test_items": len(splits.test),
            **{key: dg.MetadataValue.float(float(v)) for key, v in dataset.token_stats().items()},
            "data_version": dataset.version,
            "price_histogram": image(
                price_histogram([i.price for i in curation.items], "Prices of curated items"),
                "price histogram",
            ),
        },
    )
