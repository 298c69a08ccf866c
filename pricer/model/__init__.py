"""The model stage: where the base model comes from (the embedded SmolLM2 GGUF, a Hub id or a
folder), loading it in 4-bit NF4 with bitsandbytes, and the LoRA adapter's settings checked
against it."""
