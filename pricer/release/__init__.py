"""The release stage: what leaves a training run for its users: each checkpoint's model card, the
champion across runs and the rule that promotes it, and export as a plain merged model."""
