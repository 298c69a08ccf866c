"""The whole asset graph, materialized once (see conftest.trained_run) on a real instance."""

import pickle
import re
from pathlib import Path

import dagster as dg
import pytest

from pipelines.definitions import MAX_EPOCHS, defs
from pipelines.launch import check_passed, latest_metadata
from pricer.evaluation.epoch_record import read_records
from pricer.evaluation.scoring import evaluate_model
from pricer.hub.local_git import LocalGitStore


def materialized(instance, asset, partition=None) -> bool:
    try:
        latest_metadata(instance, asset, partition)
    except LookupError:
        return False
    return True


def test_every_asset_of_the_run_is_materialized(trained_run):
    instance, run_key, epochs = trained_run.instance, trained_run.run_key, trained_run.epochs
    for asset in ("product_dataset", "quantized_base_model", "baseline_scores"):
        assert materialized(instance, asset), asset
    for epoch in range(1, epochs + 1):
        for asset in ("lora_adapter", "hub_checkpoint", "scores"):
            assert materialized(instance, f"{asset}_epoch_{epoch}", run_key), (asset, epoch)
    assert materialized(instance, "best_checkpoint", run_key)
    # Epochs past the run's own count exist in the graph but are never trained for it.
    assert epochs < MAX_EPOCHS
    assert not materialized(instance, f"lora_adapter_epoch_{epochs + 1}", run_key)


def test_lineage_runs_adapter_to_checkpoint_to_scores(trained_run):
    instance, run_key, epochs = trained_run.instance, trained_run.run_key, trained_run.epochs
    graph = defs.resolve_asset_graph()
    for epoch in range(1, epochs + 1):
        scores = dg.AssetKey(f"scores_epoch_{epoch}")
        checkpoint = dg.AssetKey(f"hub_checkpoint_epoch_{epoch}")
        assert checkpoint in graph.get(scores).parent_keys
        assert dg.AssetKey(f"lora_adapter_epoch_{epoch}") in graph.get(checkpoint).parent_keys
        # ... and the recorded values agree: each score names the revision its checkpoint pushed.
        pushed = latest_metadata(instance, f"hub_checkpoint_epoch_{epoch}", run_key)
        scored = latest_metadata(instance, f"scores_epoch_{epoch}", run_key)
        assert scored["revision"] == pushed["revision"]
        assert scored["epoch"] == pushed["epoch"] == epoch
    assert (
        dg.AssetKey(f"scores_epoch_{epochs}")
        in graph.get(dg.AssetKey("best_checkpoint")).parent_keys
    )


def test_each_epoch_is_an_adapter_commit_then_its_card_commit(trained_run, pricer_home, model_path):
    instance, run_key, epochs = trained_run.instance, trained_run.run_key, trained_run.epochs
    pushed = [
        latest_metadata(instance, f"hub_checkpoint_epoch_{e}", run_key)
        for e in range(1, epochs + 1)
    ]
    scored = [latest_metadata(instance, f"scores_epoch_{e}", run_key) for e in range(1, epochs + 1)]
    store = LocalGitStore(pricer_home / "hub")
    repo_id = pushed[0]["repo_id"]
    assert repo_id.endswith(run_key)
    commits = [(p["revision"], s["card_revision"]) for p, s in zip(pushed, scored, strict=True)]
    assert revisions(store, repo_id)[::-1] == [c for pair in commits for c in pair]
    adapter_only = store.download(repo_id, pushed[-1]["revision"], pricer_home / "adapter_only")
    carded = store.download(repo_id, scored[-1]["card_revision"], pricer_home / "carded")
    assert {p.name for p in adapter_only.iterdir()} == {
        "adapter_config.json",
        "adapter_model.safetensors",
    }
    assert {p.name for p in carded.iterdir()} == {
        "adapter_config.json",
        "adapter_model.safetensors",
        "README.md",
    }
    # The card commit adds the card and changes nothing that was scored.
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        assert (carded / name).read_bytes() == (adapter_only / name).read_bytes()

    dataset = _load(instance, "product_dataset")
    items = dataset.splits.validation[:6]
    trained = _load(instance, f"lora_adapter_epoch_{epochs}", run_key)
    from_hub = evaluate_model(model_path, {"v": items}, adapter_dir=str(adapter_only))["v"]
    from_trainer = evaluate_model(
        model_path, {"v": items}, adapter_dir=str(trained.checkpoint_dir)
    )["v"]
    assert from_hub.outputs == from_trainer.outputs
    # Different epochs are different adapters.
    first = store.download(repo_id, pushed[0]["revision"], pricer_home / "reloaded_first")
    assert (first / "adapter_model.safetensors").read_bytes() != (
        adapter_only / "adapter_model.safetensors"
    ).read_bytes()


def test_best_checkpoint_names_a_scored_epoch_and_its_check_ran(trained_run):
    instance, run_key, epochs = trained_run.instance, trained_run.run_key, trained_run.epochs
    best = latest_metadata(instance, "best_checkpoint", run_key)
    errors = {
        e: latest_metadata(instance, f"scores_epoch_{e}", run_key)["weighted_validation_error"]
        for e in range(1, epochs + 1)
    }
    assert best["chosen_epoch"] == min(errors, key=errors.get)
    assert "**chosen**" in best["epochs"]
    assert "data:image/png;base64," in best["validation_curve"]
    # The tiny run may or may not learn enough, so here the verdict must match the numbers; a
    # run arranged to learn passes it in test_champion.py.
    verdict = check_passed(instance, "best_checkpoint", "beats_median_baseline", run_key)
    assert verdict is not None, "the blocking check never ran"
    assert verdict == (best["validation_error"] < best["median_constant_validation_error"])


def test_quality_report_has_every_baseline_and_epoch_and_is_written_out(trained_run):
    instance, run_key, epochs = trained_run.instance, trained_run.run_key, trained_run.epochs
    report = latest_metadata(instance, "quality_report", run_key)
    best = latest_metadata(instance, "best_checkpoint", run_key)
    path = Path(report["path"])
    written = path.read_text()
    rows = [line.split("|")[1].strip() for line in written.splitlines() if line.startswith("| ")]
    assert rows[1:] == [
        "median constant",
        "mean constant",
        "ridge on TF-IDF",
        "noise floor (the catalogue's rule price)",
        "untrained base model",
        *(f"epoch {e}" for e in range(1, epochs + 1)),
    ]
    chosen_row = next(line for line in written.splitlines() if "**chosen**" in line)
    assert chosen_row.startswith(f"| epoch {best['chosen_epoch']} |")
    # Language-model rows carry both predictors; the validation figures are the scores assets'.
    for epoch in range(1, epochs + 1):
        scored = latest_metadata(instance, f"scores_epoch_{epoch}", run_key)
        line = next(x for x in written.splitlines() if x.startswith(f"| epoch {epoch} |"))
        error = line.split("|")[2].strip()
        assert (
            error == f"{scored['validation_error']:.2f} / {scored['weighted_validation_error']:.2f}"
        )
    # The file links its pictures beside it; the UI's copy carries them inline.
    linked = re.findall(r"!\[[^]]*\]\(([^)]+)\)", written)
    assert len(linked) == 3
    assert all((path.parent / name).read_bytes().startswith(b"\x89PNG") for name in linked)
    assert report["report"].count("data:image/png;base64,") == 3


def test_each_epoch_logged_an_offline_wandb_run(trained_run, pricer_home):
    run_key, epochs = trained_run.run_key, trained_run.epochs
    runs = sorted((pricer_home / "runs" / run_key / "wandb").glob("offline-run-*"))
    assert len(runs) == epochs
    records = read_records(pricer_home / "runs" / run_key)
    for run, record in zip(runs, records, strict=True):
        (history,) = Path(run).glob("*.wandb")
        # The trainer's W&B callback logs the validation loss the epoch's record holds; in the
        # run's file, a history item is its key, then its value as JSON text.
        logged = re.findall(rb"eval/loss[^0-9]{1,4}([0-9][0-9.e+-]*)", history.read_bytes())
        assert logged, f"{history} holds no validation loss"
        assert float(logged[-1]) == pytest.approx(record.validation_loss, rel=1e-6)


def _load(instance, asset, partition=None):
    """The stored value, as the default filesystem IO manager pickled it for downstream steps."""
    storage = Path(instance.storage_directory()) / asset
    path = storage / partition if partition else storage
    return pickle.loads(path.read_bytes())


def revisions(store, repo_id: str) -> list[str]:
    """Every pushed revision of a repo in the local store, newest first."""
    return [revision for revision, _ in store.history(repo_id)]


def test_the_base_model_and_every_card_name_where_its_weights_came_from(trained_run, pricer_home):
    from pricer.model.provenance import base_model_origin

    instance, run_key = trained_run.instance, trained_run.run_key
    origin = base_model_origin("embedded")
    base = latest_metadata(instance, "quantized_base_model")
    assert (base["origin"], base["content_hash"]) == (origin.description, origin.content_hash)
    records = instance.fetch_materializations(dg.AssetKey("quantized_base_model"), limit=1).records
    data_version = records[0].asset_materialization.tags["dagster/data_version"]
    assert data_version == f"{origin.content_hash} {base['compute_precision']}"
    epoch = trained_run.epochs
    repo_id = latest_metadata(instance, f"hub_checkpoint_epoch_{epoch}", run_key)["repo_id"]
    scored = latest_metadata(instance, f"scores_epoch_{epoch}", run_key)
    store = LocalGitStore(pricer_home / "hub")
    card = store.download(repo_id, scored["card_revision"], pricer_home / "card_origin")
    assert (
        f"## Base model\n\n{origin.description}; then quantized" in (card / "README.md").read_text()
    )
