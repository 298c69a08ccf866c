"""Named run configurations: the demo's, and the tiny one the tests and benchmarks share.

Each is the run config of `product_dataset` and of epoch 1 of a training run, as the launchpad
takes it.
"""

from pipelines.definitions import MAX_EPOCHS

# Small enough for a 2-core CPU in minutes, and long enough to go too far: 48 training items, so
# that six epochs at a high learning rate memorise them, with short texts and a smaller rank than
# the 8B recipe. Found with bench/overfit_stability.py on seeds 0, 1 and 2 (docs/benchmarks.md).
DEMO_DATASET = {
    "catalogue_size": 320,
    "max_text_tokens": 40,
    "validation_size": 40,
    "test_size": 40,
    "train_size": 48,
}
DEMO_TRAINING = {
    "epochs": min(6, MAX_EPOCHS),
    "batch_size": 8,
    "learning_rate": 2e-3,
    "lora_r": 16,
    "lora_alpha": 32,
    "max_length": 96,
}

# The whole graph in about three minutes: two epochs of a small slice of the catalogue. Whether
# it learns is not the point; every asset, link and file it produces is real.
TINY_DATASET = {
    "catalogue_size": 140,
    "max_text_tokens": 24,
    "validation_size": 12,
    "test_size": 12,
    # Prices by the text's rule alone: on 12 validation items the catalogue's dispersion would
    # make the tests' clear margin over the median (conftest.CLEAR_MARGIN) a matter of luck.
    "price_dispersion": 0.0,
}
TINY_TRAINING = {
    "epochs": 2,
    "batch_size": 8,
    "learning_rate": 1e-3,
    "lora_r": 8,
    "lora_alpha": 16,
    "max_length": 64,
}

# Real product data (pricer-format files: 150+ tokens of text, prices $0.50-$999.49): every
# linear layer at rank 64, lr 5e-4, the settings that beat the ridge baseline in the GPU lever
# sweep (docs/real_data/levers.md); the course recipe's attention-only adapter did not. max_length
# fits the 2-core CPU's 48-token text; bench/real_data_run.py trains with it, and its --set flag
# changes a setting.
REAL_DATA_TRAINING = {
    "epochs": 5,
    "batch_size": 16,
    "learning_rate": 5e-4,
    "lora_r": 64,
    "lora_alpha": 128,
    "target_modules": [
        "q_proj",
        "k_proj",
        "v_proj",
        "o_proj",
        "gate_proj",
        "up_proj",
        "down_proj",
    ],
    "max_length": 96,
}
