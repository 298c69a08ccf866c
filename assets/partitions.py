import warnings

import dagster as dg

# One partition per training run, keyed like pricer-2026-11-22_10.15.39 (pricer.training.run_keys).
training_runs = dg.DynamicPartitionsDefinition(name="training_runs")

# The checks on a run's scores and best checkpoint are partitioned by training run, so that one
# run's verdict never stands for another's. Dagster 1.13 marks that as a preview, chosen knowingly:
# its warning, once per check in every step process, says nothing new.
warnings.filterwarnings(
    "ignore", message="Specifying a partitions_def on an AssetCheckSpec", category=dg.PreviewWarning
)
