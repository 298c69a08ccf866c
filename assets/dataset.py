import dagster as dg
from pydantic import Field

from assets.metadata import image
from pricer.data.catalogue import PRICE_DISPERSION
from pricer.data.curation import CurationResult, CurationRules
from pricer.data.dataset import CuratedDataset, build_dataset
from pricer.data.sources import SourceError, source_parts
from pricer.plots import price_histogram
from resources import BaseModelResource

_RULES = CurationRules()
# Rejected rows listed per reason in the UI's table, enough to find the pattern in the file.
_EXAMPLES_PER_REASON = 3


class DatasetConfig(dg.Config):
    source: str = Field(
        default="embedded",
        description="embedded, a .jsonl/.csv/.parquet path (several, comma-separated, are "
        "pooled), or a Hugging Face dataset id",
    )
    catalogue_size: int = Field(default=400, description="rows generated for the embedded source")
    price_dispersion: float = Field(
        default=PRICE_DISPERSION,
        description="the embedded catalogue's price spread that its texts do not reveal: the "
        "standard deviation of a log-normal price factor (0: prices follow the text's rule)",
    )
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

    def build(self, tokenizer) -> CuratedDataset:
        """The source curated by these rules and split: what the asset, and the benchmarks that
        train without Dagster, build."""
        rules = CurationRules(self.min_price, self.max_price, self.min_chars, self.max_text_tokens)
        return build_dataset(
            self.source,
            tokenizer,
            rules,
            self.validation_size,
            self.test_size,
            self.seed,
            self.catalogue_size,
            self.train_size,
            self.price_dispersion,
        )


@dg.asset(group_name="data", kinds={"pandas"}, code_version="1")
def product_dataset(
    context: dg.AssetExecutionContext, config: DatasetConfig, base_model: BaseModelResource
) -> dg.Output[CuratedDataset]:
    """Products curated by the course's recipe (price range, minimum text, text cut to a token
    budget with the base model's tokenizer, duplicates removed) and split into train, validation
    and test. Every rejected row is counted by reason."""
    from pricer.model.quantization import load_tokenizer  # transformers: only in this step

    try:
        dataset = config.build(load_tokenizer(base_model.path()))
    except SourceError as error:
        # The message names the file and the reason: that is the whole story, not a traceback.
        raise dg.Failure(
            description=str(error), metadata={"file": _failing_part(config.source, str(error))}
        ) from None
    except ValueError as error:  # a setting out of range: the message names it
        raise dg.Failure(description=str(error)) from None
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
            "rejections": _rejections_table(curation),
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


def _failing_part(source: str, message: str) -> str:
    """The file (or dataset id) of a pooled source that a SourceError's message starts with."""
    try:
        parts = source_parts(source)
    except SourceError:
        return source
    return next((part for part in parts if message.startswith(f"{part}:")), source)


def _rejections_table(curation: CurationResult) -> dg.MetadataValue:
    """One row per reason: how many rows it rejected and where the first few are."""
    examples: dict[str, list[str]] = {reason: [] for reason in curation.rejected}
    for rejection in curation.rejections:
        found = examples[rejection.reason]
        if len(found) < _EXAMPLES_PER_REASON:
            found.append(f"{rejection.origin}:{rejection.line}")
    return dg.MetadataValue.table(
        records=[
            dg.TableRecord(
                {"reason": reason, "count": count, "examples": ", ".join(examples[reason])}
            )
            for reason, count in curation.rejected.most_common()
        ],
        schema=dg.TableSchema(
            columns=[
                dg.TableColumn("reason"),
                dg.TableColumn("count", "int"),
                dg.TableColumn("examples", description="file:line of the first rejected rows"),
            ]
        ),
    )
