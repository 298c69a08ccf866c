"""`pricer predict` and `pricer export` as a person runs them: the installed console script, in a
process of its own."""

import json
import os
import signal
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from conftest import PRICER, free_port
from safetensors.numpy import save

from pipelines.launch import latest_metadata
from pricer.hub.local_git import LocalGitStore
from pricer.model.precision import choose_precision
from pricer.release.champion import ChampionPointer, pointer_path, write_champion
from pricer.release.checkpoints import checkpoint_message
from pricer.serving.loading import load_ready
from pricer.serving.pricing import price_descriptions

TEXTS = [
    "Stainless steel electric kettle, 1.7 litres, boils fast, auto shut-off",
    "Wireless noise-cancelling headphones with a 30-hour battery and a carrying case",
    "Pack of 12 HB pencils with erasers",
    "Cordless drill driver kit, two batteries, charger and 40 bits",
]


def pricer(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(PRICER), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PRICER_HOME": str(home)},
        timeout=600,
    )


def predict(home: Path, *args: str) -> subprocess.CompletedProcess:
    return pricer(home, "predict", *args)


def printed(done: subprocess.CompletedProcess) -> list[str]:
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def formatted(prices: list[float | None]) -> list[str]:
    return ["nan" if p is None else f"{p:.2f}" for p in prices]


@pytest.fixture(scope="module")
def texts_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "products.jsonl"
    path.write_text("".join(json.dumps({"text": t, "sku": i}) + "\n" for i, t in enumerate(TEXTS)))
    return path


@pytest.fixture(scope="module")
def epoch_prices(trained_run, pricer_home, model_path) -> dict[int, tuple[list, list]]:
    """Each epoch's (greedy, weighted) prices for TEXTS, priced in this process from its commit
    as `pricer predict` prices on the CPU (test_fast_predict: as scoring does)."""
    store = LocalGitStore(pricer_home / "hub")
    precision = choose_precision("auto", "cpu").name
    prices = {}
    for epoch in range(1, trained_run.epochs + 1):
        pushed = latest_metadata(
            trained_run.instance, f"hub_checkpoint_epoch_{epoch}", trained_run.run_key
        )
        adapter = store.download(
            pushed["repo_id"], pushed["revision"], pricer_home / "cli" / str(epoch)
        )
        decoder, tokenizer = load_ready(pricer_home, model_path, adapter, precision)
        decoded = price_descriptions(decoder, tokenizer, TEXTS, 160)
        prices[epoch] = ([d.price() for d in decoded], [d.price(weighted=True) for d in decoded])
    return prices


def test_an_epoch_of_a_run_prices_a_jsonl_file(trained_run, pricer_home, texts_file, epoch_prices):
    done = predict(
        pricer_home, "--run", trained_run.run_key, "--epoch", "1", "--jsonl", str(texts_file)
    )
    assert printed(done) == formatted(epoch_prices[1][1])  # the weighted price, as chosen by


def test_a_run_defaults_to_its_chosen_checkpoint(
    trained_run, pricer_home, texts_file, epoch_prices
):
    chosen = latest_metadata(trained_run.instance, "best_checkpoint", trained_run.run_key)[
        "chosen_epoch"
    ]
    done = predict(pricer_home, "--run", trained_run.run_key, "--jsonl", str(texts_file))
    # Weighted prices are continuous: two epochs' adapters do not print the same ones.
    others = [formatted(w) for e, (_, w) in epoch_prices.items() if e != chosen]
    assert printed(done) == formatted(epoch_prices[chosen][1])
    assert all(other != printed(done) for other in others)


def test_a_hub_revision_prices_a_text_argument(trained_run, pricer_home, epoch_prices):
    last = trained_run.epochs
    pushed = latest_metadata(
        trained_run.instance, f"hub_checkpoint_epoch_{last}", trained_run.run_key
    )
    done = predict(
        pricer_home,
        "--repo",
        pushed["repo_id"],
        "--revision",
        pushed["revision"][:12],
        "--greedy",
        TEXTS[2],
    )
    assert printed(done) == formatted(epoch_prices[last][0][2:3])


def epoch_pointer(trained_run, epoch: int) -> ChampionPointer:
    """The pointer the champion asset would write on promoting the tiny run's epoch (test_champion
    promotes through the job; whether the tiny run wins depends on its numbers, so the tests here
    write it directly)."""
    pushed = latest_metadata(
        trained_run.instance, f"hub_checkpoint_epoch_{epoch}", trained_run.run_key
    )
    return ChampionPointer(
        repo_id=pushed["repo_id"],
        revision=pushed["revision"],
        run_key=trained_run.run_key,
        epoch=epoch,
        hub="local",
        base_model="embedded",
    )


def test_with_no_checkpoint_named_the_champion_prices(
    trained_run, pricer_home, texts_file, epoch_prices
):
    instance, run_key = trained_run.instance, trained_run.run_key
    chosen = latest_metadata(instance, "best_checkpoint", run_key)["chosen_epoch"]
    # The epoch the run did not choose: the champion is then neither the run's best nor its last.
    (other,) = set(epoch_prices) - {chosen}
    write_champion(pricer_home, epoch_pointer(trained_run, other))
    try:
        done = predict(pricer_home, "--jsonl", str(texts_file))
    finally:
        pointer_path(pricer_home).unlink()
    # The same prices as that repo and revision priced by name (weighted: each epoch's differ).
    assert printed(done) == formatted(epoch_prices[other][1])
    assert printed(done) != formatted(epoch_prices[chosen][1])


def test_serve_answers_over_http_and_follows_a_promotion(trained_run, pricer_home, epoch_prices):
    def post(body: bytes) -> tuple[int, dict]:
        request = urllib.request.Request(f"{url}/predict", data=body, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    write_champion(pricer_home, epoch_pointer(trained_run, 1))
    port = free_port()
    server = subprocess.Popen(
        [str(PRICER), "serve", "--port", str(port)],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PRICER_HOME": str(pricer_home)},
        # Started as a background job starts it, SIGINT and SIGTERM ignored: it stops all the same.
        preexec_fn=_ignore_interrupt_and_term,
    )
    stopped = None
    try:
        # It says where it listens once the champion has loaded.
        assert f"serving the champion at http://127.0.0.1:{port}" in server.stderr.readline()
        url = f"http://127.0.0.1:{port}"
        status, answer = post(json.dumps({"texts": TEXTS}).encode())
        assert status == 200
        assert formatted(answer["prices"]) == formatted(epoch_prices[1][1])
        assert answer["champion"]["epoch"] == 1
        # A promotion moves the pointer: the next request is answered by the new champion.
        write_champion(pricer_home, epoch_pointer(trained_run, 2))
        status, answer = post(json.dumps({"texts": TEXTS}).encode())
        assert (status, answer["champion"]["epoch"]) == (200, 2)
        assert formatted(answer["prices"]) == formatted(epoch_prices[2][1])
        for bad in (b"{not json", b'{"texts": []}', b'{"texts": ["a kettle", 3]}'):
            status, answer = post(bad)
            assert status == 400 and answer["error"]
        # A second server on the same port: one line, once its champion has loaded.
        taken = pricer(pricer_home, "serve", "--port", str(port))
        assert taken.returncode == 2
        assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in taken.stderr
        assert "Traceback" not in taken.stderr
    finally:
        pointer_path(pricer_home).unlink()  # the session's other tests start with no champion
        server.terminate()
        try:
            stopped = server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        print("the server's stderr:", server.stderr.read())  # shown when the test fails
    assert stopped == 0, "pricer serve did not stop on SIGTERM"


def _ignore_interrupt_and_term() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


@pytest.fixture(scope="module")
def small_hub(tmp_path_factory) -> Path:
    """A local hub holding two epochs of a run, and no model: mistakes are caught before one
    would load."""
    home = tmp_path_factory.mktemp("home")
    store = LocalGitStore(home / "hub")
    repo_id = store.ensure_repo("run-a")
    for epoch in (1, 2):
        folder = home / f"epoch{epoch}"
        folder.mkdir()
        (folder / "adapter_config.json").write_text(json.dumps({"epoch": epoch}))
        weights = save({"lora_A": np.full((4, 64), epoch, dtype=np.float32)})
        # Epoch 2's weights stopped short on their way to the hub.
        cut = weights[:-100] if epoch == 2 else weights
        (folder / "adapter_model.safetensors").write_bytes(cut)
        store.push_folder(repo_id, folder, checkpoint_message("run-a", epoch))
    return home


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["a kettle"], "there is no champion yet"),
        (["--epoch", "1", "a kettle"], "add --run or --repo"),
        (["--run", "run-a", "--repo", "local/run-a", "x"], "give one of them"),
        (["--run", "run-b", "a kettle"], "no repo local/run-b in the local hub"),
        (["--run", "run-a", "--epoch", "3", "a kettle"], "has no epoch 3; pushed epochs: 1, 2"),
        (["--run", "run-a", "--epoch", "1", "--revision", "main", "x"], "give one of them"),
        (["--run", "run-a", "x"], "local/run-a has no checkpoint tagged 'best' yet"),
        (["--run", "run-a", "--revision", "0badc0de", "x"], "has no revision '0badc0de'"),
        (["--run", "run-a"], "give a description, or --jsonl FILE"),
        (["--run", "run-a", "--jsonl", "missing.jsonl"], "cannot read missing.jsonl"),
        (["--run", "run-a", "--jsonl", "bad.jsonl"], "bad.jsonl:2: no 'text' field"),
        (["--run", "run-a", "--jsonl", "broken.jsonl"], "broken.jsonl:1: not JSON"),
        (["--run", "run-a", "--jsonl", "latin1.jsonl"], "latin1.jsonl:2: not UTF-8 (byte 0xe9"),
        (["--run", "run-a", "--epoch", "2", "a kettle"], "adapter_model.safetensors is cut short"),
        (["--run", "run-a", "--batch-size", "0", "x"], "'0' is not a whole number of 1 or more"),
        (["--run", "run-a", "--epoch", "1", "--base-model", "./gone", "x"], "base model './gone'"),
        (["--run", "run-a", "--precision", "fp16", "x"], "precision fp16 needs a GPU"),
        (["--run", "run-a", "--precision", "fp64", "x"], "invalid choice: 'fp64'"),
    ],
)
def test_mistakes_get_one_line_and_no_traceback(small_hub, args, message, monkeypatch):
    monkeypatch.chdir(small_hub)
    (small_hub / "bad.jsonl").write_text('{"text": "fine"}\n{"title": "no text"}\n')
    (small_hub / "broken.jsonl").write_text("{not json\n")
    (small_hub / "latin1.jsonl").write_bytes(
        '{"text": "fine"}\n{"text": "café"}\n'.encode("latin-1")
    )
    done = predict(small_hub, *args)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--run", "run-a", "--epoch", "3", "out"], "has no epoch 3; pushed epochs: 1, 2"),
        (["--run", "run-a", "out"], "local/run-a has no checkpoint tagged 'best' yet"),
        (["out"], "name a checkpoint with --run RUN"),
        (["--run", "run-a", "--epoch", "1", "taken"], "taken exists and is not an empty folder"),
        (["--run", "run-a", "--epoch", "1", "--dtype", "int4", "out"], "invalid choice: 'int4'"),
        (
            ["--format", "gguf", "--run", "run-a", "--epoch", "1", "taken/config.json"],
            "taken/config.json exists and is not an empty file",
        ),
        (
            ["--format", "gguf", "--gguf-type", "q4_k", "--run", "run-a", "--epoch", "1", "out"],
            "invalid choice: 'q4_k'",
        ),
        (
            ["--format", "gguf", "--run", "run-a", "--epoch", "1", "--base-model", "./b", "out"],
            "needs the base's tokenizer as GGUF metadata",
        ),
    ],
)
def test_export_mistakes_get_one_line_and_write_nothing(small_hub, args, message, monkeypatch):
    monkeypatch.chdir(small_hub)
    (small_hub / "taken").mkdir(exist_ok=True)
    (small_hub / "taken" / "config.json").write_text("{}")
    # A folder that looks like a model, for the base that is not the embedded one.
    (small_hub / "b").mkdir(exist_ok=True)
    (small_hub / "b" / "config.json").write_text("{}")
    (small_hub / "b" / "model.safetensors").write_bytes(save({"w": np.zeros(2, np.float32)}))
    done = pricer(small_hub, "export", *args)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert not (small_hub / "out").exists()
    assert [p.name for p in small_hub.iterdir() if p.name.startswith(".")] == []


def test_a_damaged_champion_pointer_is_one_line_and_stays(tmp_path):
    damaged = b'{"repo_id": "local/pricer-2026'
    (tmp_path / "champion.json").write_bytes(damaged)
    done = predict(tmp_path, "a kettle")
    assert done.returncode == 2
    assert f"{tmp_path / 'champion.json'} is damaged (JSONDecodeError" in done.stderr
    assert "Traceback" not in done.stderr
    assert (tmp_path / "champion.json").read_bytes() == damaged
