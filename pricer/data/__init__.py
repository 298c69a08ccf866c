"""The data stage: raw product rows from a file, a Hugging Face dataset or the embedded catalogue,
curated by the course's rules (every rejection counted), turned into prompts and split into
train, validation and test. Nothing here imports the ML stack."""
