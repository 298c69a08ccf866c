"""The HF token and the W&B key never leave the environment.

Recognisable fake secrets are set, and a whole training run (tiny preset, one epoch) goes through
pipelines/launch.py on a fresh Dagster instance, pushing to the loopback Hub as a user pushing to
huggingface.co would. Then everything the run left behind is searched: every event of every run
(run config and tags included), materialization metadata, the Hub's repos (commit messages,
model cards, every file), the W&B offline runs, and every file under DAGSTER_HOME, PRICER_HOME and
HOME. Each place is first shown to hold what the run wrote, so an empty search means something.
"""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
from hub_server import HubState, start_hub_server

REPO = Path(__file__).resolve().parents[1]
HF_TOKEN = "hf_PricerCanaryTokenDoNotLeak2026"
WANDB_API_KEY = "PricerCanaryWandbKeyDoNotLeak20260000ff0"  # 40 characters, as W&B keys are
SECRETS = (HF_TOKEN, WANDB_API_KEY)

# What a user runs, in a process of its own, so that every setting is read from the environment.
LAUNCH = """
import dagster as dg
from pipelines.launch import prepare, train_new_run
from pipelines.presets import TINY_DATASET, TINY_TRAINING

instance = dg.DagsterInstance.get()
prepare(instance, TINY_DATASET)
print("RUN_KEY", train_new_run(instance, {**TINY_TRAINING, "epochs": 1}))
"""


def leaks(text: str | bytes) -> list[str]:
    data = text.encode(errors="surrogateescape") if isinstance(text, str) else text
    return [secret for secret in SECRETS if secret.encode() in data]


def files_under(root: Path) -> list[Path]:
    # Links are not followed: the base model is linked in from the session's cache.
    return [
        Path(folder) / name
        for folder, _, names in os.walk(root)
        for name in names
        if not (Path(folder) / name).is_symlink()
    ]


def test_secrets_never_appear_in_what_a_run_leaves_behind(tmp_path, pricer_home, model_path):
    dagster_home, work, home = (tmp_path / name for name in ("dagster", "pricer", "home"))
    for folder in (dagster_home, work, home):
        folder.mkdir()
    (work / "models").symlink_to(pricer_home / "models")  # converted once per session
    with start_hub_server(HF_TOKEN) as (url, hub):
        environment = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("HF_", "WANDB_"))},
            "DAGSTER_HOME": str(dagster_home),
            "PRICER_HOME": str(work),
            "HOME": str(home),  # where a W&B or HF login would write its key
            "PRICER_HUB": "huggingface",
            "HF_ENDPOINT": url,
            "HF_TOKEN": HF_TOKEN,
            "PRICER_TRACKER": "offline",
            "WANDB_API_KEY": WANDB_API_KEY,
        }
        launched = subprocess.run(
            [sys.executable, "-c", LAUNCH],
            cwd=REPO,
            env=environment,
            capture_output=True,
            text=True,
            timeout=3600,
        )
        assert launched.returncode == 0, launched.stderr[-5000:]
        run_key = launched.stdout.split("RUN_KEY", 1)[1].split()[0]

        assert not leaks(launched.stdout + launched.stderr)
        check_hub(hub, run_key)
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        check_event_log(instance, run_key, url)
        check_metadata(instance, run_key)
    check_wandb_files(work / "runs" / run_key, run_key)
    assert (dagster_home / "history" / "runs.db").is_file()
    for root in (dagster_home, work, home):
        leaked = {str(path): leaks(path.read_bytes()) for path in files_under(root)}
        assert not {path: found for path, found in leaked.items() if found}


def check_hub(hub: HubState, run_key: str) -> None:
    repo_id = f"{hub.user}/{run_key}"
    assert list(hub.repos) == [repo_id]
    assert hub.repos[repo_id].private  # nobody asked for privacy: it is the default
    repo = hub.repos[repo_id]
    commits = repo.commits.values()  # main's and the trainer-state branches'
    messages = [commit.message for commit in commits]
    assert f"{run_key}: epoch 1" in messages
    assert any(branch.startswith("trainer-state-epoch-") for branch in repo.branches)
    # The model cards users read, on main; a branch's trainer state also holds PEFT's stock card.
    on_main, oid = [], repo.branches["main"]
    while oid is not None:
        on_main.append(repo.commits[oid])
        oid = repo.commits[oid].parent
    cards = [commit.files["README.md"] for commit in on_main if "README.md" in commit.files]
    assert cards and all(run_key.encode() in card for card in cards)
    texts = [*messages, *hub.repos[repo_id].tags, repo_id]
    contents = [content for commit in commits for content in commit.files.values()]
    assert not [found for item in [*texts, *contents] for found in leaks(item)]


def check_event_log(instance: dg.DagsterInstance, run_key: str, hub_url: str) -> None:
    runs = instance.get_runs()
    assert {run.job_name for run in runs} >= {"prepare", "training_run", "select_best"}
    for run in runs:
        # The run as the UI shows it: run config, tags, the job it ran.
        shown = dg.serialize_value(run)
        assert not leaks(shown), run.job_name
        events = "\n".join(dg.serialize_value(event) for event in instance.all_logs(run.run_id))
        assert not leaks(events), run.job_name
        if run.job_name == "training_run":
            assert run_key in shown and f"{hub_url}/" in events  # the hub commit's link


def check_metadata(instance: dg.DagsterInstance, run_key: str) -> None:
    checked = 0
    for key in instance.get_asset_keys():
        records = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=key), limit=100)
        for record in records.records:
            metadata = record.asset_materialization.metadata
            assert not leaks(repr({name: value.value for name, value in metadata.items()}))
            checked += 1
    assert checked >= 8  # dataset, base model, baselines, an epoch's three, best, report


def check_wandb_files(run_dir: Path, run_key: str) -> None:
    files = [path for path in files_under(run_dir) if "wandb" in path.parts]
    assert any(path.suffix == ".wandb" for path in files)  # the offline run itself
    written = b"".join(path.read_bytes() for path in files)
    assert run_key.encode() in written and b"learning_rate" in written  # group and config
    assert not leaks(written)


# An epoch tracked online, in a process of its own (W&B reads its environment once a process).
TRACK_ONLINE = """
import sys
from pathlib import Path
from pricer.training.tracking import track_epoch

with track_epoch("online", "pricer", "run", 1, {}, Path(sys.argv[1]), api_key=sys.argv[2]):
    pass
"""


def test_the_wandb_key_is_never_written_to_disk_online(tmp_path):
    home, run_dir = tmp_path / "home", tmp_path / "run"
    home.mkdir()
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "NETRC"))},
        "HOME": str(home),
        # Nothing listens on the discard port: W&B fails fast, after it has handled the key.
        "WANDB_BASE_URL": "http://127.0.0.1:9",
        "WANDB_INIT_TIMEOUT": "5",
    }
    tracked = subprocess.run(
        [sys.executable, "-c", TRACK_ONLINE, str(run_dir), WANDB_API_KEY],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert tracked.returncode != 0 and "127.0.0.1:9" in tracked.stderr  # it did try to log in
    assert not leaks(tracked.stdout + tracked.stderr)
    written = [path for root in (home, run_dir) for path in files_under(root)]
    assert not [path for path in written if leaks(path.read_bytes())]  # ~/.netrc included
