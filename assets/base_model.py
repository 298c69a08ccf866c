import dagster as dg

from assets.config import LoraConfig
from pricer.model.lora import find_target_modules, lora_parameter_count
from pricer.model.spec import BaseModelSpec
from resources import BaseModelResource, ComputeResource


@dg.asset(group_name="model", kinds={"huggingface", "pytorch"}, code_version="1")
def quantized_base_model(
    context: dg.AssetExecutionContext,
    config: LoraConfig,
    base_model: BaseModelResource,
    compute: ComputeResource,
) -> dg.Output[BaseModelSpec]:
    """The base model in 4-bit NF4 (double quantization, bf16 compute) through bitsandbytes,
    checked against the LoRA target modules so a wrong name fails here, before any training."""
    from pricer.model.quantization import footprint, load_quantized  # torch: only in this step

    lora = config.lora()
    lora.validate()
    path = base_model.path()
    model = load_quantized(path, compute.device)
    targets = find_target_modules(model, lora.target_modules)
    sizes = footprint(path, model)
    adapter_parameters = lora_parameter_count(targets, lora.r)
    context.log.info(f"{base_model.name()}: {sizes.quantized_bytes / 1e6:.1f} MB in 4-bit")
    return dg.Output(
        BaseModelSpec(model_id=base_model.model_id, name=base_model.name(), path=path),
        data_version=dg.DataVersion(base_model.model_id),
        metadata={
            "model": base_model.name(),
            "parameters": dg.MetadataValue.int(sizes.parameters),
            "bf16_footprint_mb": dg.MetadataValue.float(round(sizes.bf16_bytes / 1e6, 1)),
            "nf4_footprint_mb": dg.MetadataValue.float(round(sizes.quantized_bytes / 1e6, 1)),
            "target_modules": dg.MetadataValue.md(
                "| module | layers | in | out |\n|---|---:|---:|---:|\n"
                + "\n".join(
                    f"| {t.name} | {t.count} | {t.in_features} | {t.out_features} |"
                    for t in targets
                )
            ),
            "lora_rank": lora.r,
            "lora_trainable_parameters": dg.MetadataValue.int(adapter_parameters),
            # Adapters are saved in fp32 by PEFT: four bytes a parameter.
            "expected_adapter_mb": dg.MetadataValue.float(round(adapter_parameters * 4 / 1e6, 2)),
        },
    )
