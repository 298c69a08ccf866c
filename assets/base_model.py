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
    """The base model in 4-bit NF4 (double quantization) through bitsandbytes, computing in the
    precision the hardware runs natively (bf16 where it has it, else fp32 on a CPU), which every
    later step computes in too. Checked against the LoRA target modules so a wrong name fails
    here, before any training."""
    from pricer.model.quantization import footprint, load_quantized  # torch: only in this step

    lora = config.lora()
    lora.validate()
    precision = compute.compute_precision()  # a precision the device cannot run stops here
    path = base_model.path()
    origin = base_model.origin()
    model = load_quantized(path, compute.device, precision.name)
    targets = find_target_modules(model, lora.target_modules)
    sizes = footprint(path, model)
    adapter_parameters = lora_parameter_count(targets, lora.r)
    context.log.info(
        f"{base_model.name()}: {sizes.quantized_bytes / 1e6:.1f} MB in 4-bit, computing in "
        f"{precision.name} ({precision.reason})"
    )
    spec = BaseModelSpec(
        model_id=base_model.model_id,
        name=base_model.name(),
        path=path,
        precision=precision.name,
        origin=origin.description,
    )
    return dg.Output(
        spec,
        # Other weights, or another precision, are another model for every step downstream.
        data_version=dg.DataVersion(f"{origin.content_hash} {precision.name}"),
        metadata={
            "model": base_model.name(),
            "origin": origin.description,
            "content_hash": origin.content_hash,
            **({"hub_revision": origin.revision} if origin.revision else {}),
            "compute_precision": precision.name,
            "precision_chosen": precision.reason,
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
