"""The Dagster code location: definitions, jobs and sensors."""
