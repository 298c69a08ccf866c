"""Dagster assets and checks: thin wrappers that call into the `pricer` package."""
