import dagster as dg

# One partition per training run, keyed like pricer-2026-11-22_10.15.39 (pricer.training.run_keys).
training_runs = dg.DynamicPartitionsDefinition(name="training_runs")
