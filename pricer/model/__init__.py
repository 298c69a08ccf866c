"""The model stage: where the base model comes from (the embedded SmolLM2 GGUF, a Hub id or a
folder), the precision it computes in (chosen by the hardware), loading it in 4-bit NF4 with
bitsandbytes, the ready copy the CPU computes with (those weights dequantized once, saved), and the
LoRA adapter's settings checked against it."""
