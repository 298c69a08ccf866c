"""The base model's origin and content hash: the embedded GGUF named by package and file, a folder
hashed by its weights, and a Hub base by the commit the real client downloaded from a hub on
loopback."""

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from hub_server import start_hub_server
from huggingface_hub import HfApi
from safetensors.numpy import save_file

from pricer.model.provenance import base_model_origin
from pricer.model.source import EMBEDDED, EMBEDDED_PACKAGE, embedded_gguf

TOKEN = "hf_provenance_test_token"


def small_model_folder(folder: Path, weight: int = 1) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps({"model_type": "llama", "hidden_size": 4}))
    save_file(
        {"embed.weight": np.full((4, 4), weight, dtype=np.float32)}, folder / "model.safetensors"
    )
    return folder


def test_the_embedded_base_is_named_by_its_package_file_and_hash():
    origin = base_model_origin(EMBEDDED)
    version = importlib.metadata.version(EMBEDDED_PACKAGE)
    assert f"{EMBEDDED_PACKAGE} {version}" in origin.description
    assert embedded_gguf().name in origin.description
    assert origin.content_hash.startswith("sha256:") and len(origin.content_hash) == 7 + 64
    assert origin.revision is None
    assert base_model_origin(EMBEDDED) == origin


def test_a_folders_hash_follows_its_weights_and_nothing_else(tmp_path):
    folder = small_model_folder(tmp_path / "base")
    before = base_model_origin(str(folder))
    assert str(folder) in before.description
    assert base_model_origin(str(small_model_folder(tmp_path / "copy"))).content_hash == (
        before.content_hash
    )
    (folder / "README.md").write_text("notes that change no weight")
    assert base_model_origin(str(folder)).content_hash == before.content_hash
    small_model_folder(folder, weight=2)
    assert base_model_origin(str(folder)).content_hash != before.content_hash


def origin_in_a_fresh_process(model_id: str, environment: dict[str, str]) -> dict:
    # The client reads HF_ENDPOINT, HF_HOME and HF_HUB_OFFLINE when it is imported.
    script = (
        "import json, dataclasses; from pricer.model.provenance import base_model_origin; "
        f"print(json.dumps(dataclasses.asdict(base_model_origin({model_id!r}))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def test_a_hub_base_records_the_commit_it_was_downloaded_at(tmp_path):
    with start_hub_server(TOKEN) as (url, _):
        api = HfApi(endpoint=url, token=TOKEN)
        repo_id = api.create_repo("tiny-base").repo_id
        api.upload_folder(repo_id=repo_id, folder_path=small_model_folder(tmp_path / "base"))
        first = api.model_info(repo_id).sha
        environment = {
            "HF_ENDPOINT": url,
            "HF_TOKEN": TOKEN,
            "HF_HOME": str(tmp_path / "hf_home"),
            "HF_HUB_DISABLE_XET": "1",
        }
        origin = origin_in_a_fresh_process(repo_id, environment)
        assert origin["revision"] == first
        assert origin["content_hash"] == f"git:{first}"
        assert f"{repo_id} at commit {first}" in origin["description"]

        api.upload_folder(repo_id=repo_id, folder_path=small_model_folder(tmp_path / "v2", 2))
        second = api.model_info(repo_id).sha
        assert second != first
        assert origin_in_a_fresh_process(repo_id, environment)["revision"] == second
    # Offline, from the cache, it names the commit it last downloaded.
    offline = origin_in_a_fresh_process(repo_id, {**environment, "HF_HUB_OFFLINE": "1"})
    assert offline["revision"] == second
