"""`pricer predict` and `pricer export`: use a checkpoint from the hub."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from pricer.home import default_home
from pricer.hub.base import CheckpointStore
from pricer.model.precision import AUTO, PRECISIONS
from pricer.release.champion import DamagedPointer, pointer_path, read_champion
from pricer.release.checkpoints import BEST_TAG, checkpoint_message
from pricer.release.export import DTYPES, export_merged, require_empty_folder, require_new_file
from pricer.release.gguf_export import DEFAULT_GGUF_TYPE, GGUF_TYPES, tokenizer_gguf_for

HUBS = ("local", "huggingface")

PREDICT_HELP = """Price product descriptions with a checkpoint from the hub.

    pricer predict "Acme kettle, 1.7 l, stainless steel"
    pricer predict --run pricer-2026-11-24_07.37.58 "Acme kettle, 1.7 l, stainless steel"
    pricer predict --run pricer-2026-11-24_07.37.58 --epoch 3 --jsonl products.jsonl
    pricer predict --repo me/pricer-2026-11-24_07.37.58 --revision 4f0c2a1 --greedy "..."

With no --run or --repo, the champion prices: the checkpoint that the promote_champion job last
promoted ($PRICER_HOME/champion.json names its repo, revision, hub and base model).
A run's checkpoint defaults to the one its select_best job chose (tagged "best" in the run's repo).
One price is printed per line, in input order: the probability-weighted price, which checkpoints
are chosen by (--greedy: the greedy one); "nan" where the model wrote no number.
On the CPU the base is kept ready to price under $PRICER_HOME/ready (made once, by a promotion or
the first predict), so one item takes a few seconds, most of them importing torch.
"""

SERVE_HELP = """Serve the champion's prices over HTTP, on this machine only.

    pricer serve --port 8765
    curl -s localhost:8765/predict -d '{"texts": ["Acme kettle, 1.7 l, stainless steel"]}'
    curl -s localhost:8765/health

POST /predict takes {"texts": [...]} and answers {"prices": [...], "champion": {...}}, a price
(null where the model wrote no number) per text, in order. The champion is loaded once, and again
when a promotion moves $PRICER_HOME/champion.json; until the new one has loaded, the old answers.
"""

EXPORT_HELP = """Save a checkpoint with its adapter merged into the base: a plain transformers
model, or one GGUF file for llama.cpp.

    pricer export merged/
    pricer export --run pricer-2026-11-24_07.37.58 merged/
    pricer export --repo me/pricer-2026-11-24_07.37.58 --revision 4f0c2a1 --dtype float32 merged/
    pricer export --format gguf pricer.gguf
    pricer export --format gguf --gguf-type f16 --run pricer-2026-11-24_07.37.58 pricer-f16.gguf

The checkpoint is chosen as for `pricer predict`: the champion unless --run or --repo names one.
A merged folder gets safetensors and the tokenizer; AutoModelForCausalLM.from_pretrained(folder)
loads it without PEFT. A GGUF file (Q8_0 unless --gguf-type says otherwise) loads in llama.cpp
(`llama-cli -m pricer.gguf`) and in llama-cpp-python; it needs a Llama-architecture base whose
tokenizer came as GGUF, as the embedded one does.
"""


class UsageError(Exception):
    """A mistake on the command line or in its input: reported in one line, no traceback."""


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.command(args)
    except UsageError as error:
        parser.exit(2, f"pricer: error: {error}\n")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pricer", description="Price products with pricer.")
    commands = parser.add_subparsers(required=True, metavar="command")
    predict = _command(
        commands, "predict", "price product descriptions with a checkpoint", PREDICT_HELP, _predict
    )
    predict.add_argument("text", nargs="?", help="a product description")
    predict.add_argument(
        "--jsonl", type=Path, help="a file of JSON lines, each with a 'text' field"
    )
    _checkpoint_arguments(predict)
    _model_arguments(predict)

    serve = _command(commands, "serve", "serve the champion's prices over HTTP", SERVE_HELP, _serve)
    serve.add_argument("--host", default="127.0.0.1", help="the address to listen on")
    serve.add_argument("--port", type=_port, default=8765, help="0: any free port")
    _model_arguments(serve)

    export = _command(
        commands,
        "export",
        "save a checkpoint merged into its base, loadable without PEFT",
        EXPORT_HELP,
        _export,
    )
    export.add_argument(
        "output", type=Path, help="a new (or empty) folder, or with --format gguf a new file"
    )
    _checkpoint_arguments(export)
    export.add_argument(
        "--format", choices=("merged", "gguf"), default="merged", help="what to write"
    )
    export.add_argument(
        "--dtype", choices=DTYPES, default="bfloat16", help="the merged folder's precision"
    )
    export.add_argument(
        "--gguf-type",
        choices=GGUF_TYPES,
        default=DEFAULT_GGUF_TYPE,
        help="the GGUF file's weight type (norms stay f32)",
    )
    return parser


def _one_or_more(text: str) -> int:
    # argparse turns the ValueError into "argument --batch-size: invalid _one_or_more value", so
    # its own error type carries the message.
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of 1 or more")
    return int(text)


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port from 0 to 65535")
    return int(text)


def _command(
    commands: argparse._SubParsersAction,
    name: str,
    summary: str,
    manual: str,
    run: Callable[[argparse.Namespace], int],
) -> argparse.ArgumentParser:
    command = commands.add_parser(
        name,
        help=summary,
        description=manual,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    command.set_defaults(command=run)
    return command


def _model_arguments(command: argparse.ArgumentParser) -> None:
    model = command.add_argument_group("model")
    model.add_argument(
        "--greedy",
        action="store_true",
        help="the greedy price instead of the probability-weighted one checkpoints are chosen by",
    )
    model.add_argument(
        "--max-text-tokens", type=_one_or_more, default=160, help="text budget, as trained"
    )
    model.add_argument("--device", default="auto")
    model.add_argument(
        "--precision",
        choices=(AUTO, *PRECISIONS),
        default=AUTO,
        help="what the model computes in; auto: bf16 where the hardware has it, else fp32",
    )
    model.add_argument("--batch-size", type=_one_or_more, default=32)


def _checkpoint_arguments(command: argparse.ArgumentParser) -> None:
    """How every command names its checkpoint, and the base it was trained on."""
    chosen = command.add_argument_group("checkpoint")
    chosen.add_argument(
        "--run", help="a training run's key: its repo in the hub (default: the champion)"
    )
    chosen.add_argument("--epoch", type=int, help="that run's checkpoint after this epoch")
    chosen.add_argument("--repo", help="a hub repo id, instead of --run")
    chosen.add_argument("--revision", help="a commit or tag in the repo (default: its best)")
    # No defaults here: the champion brings its own hub and base, which only these flags override.
    chosen.add_argument(
        "--hub",
        choices=HUBS,
        help="the local git store under $PRICER_HOME/hub or the Hugging Face Hub "
        "(default: the champion's; with --run or --repo, $PRICER_HUB, else local)",
    )
    chosen.add_argument(
        "--base-model",
        help="the base the adapter was trained on (default: the champion's; with --run or "
        "--repo, $PRICER_BASE_MODEL, else embedded)",
    )


def _predict(args: argparse.Namespace) -> int:
    texts = _texts(args.text, args.jsonl)
    price = _load_pricer(_named_or_champion(args))
    for value in price(texts):
        print("nan" if value is None else f"{value:.2f}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from pricer.serving.server import ChampionHolder, LoadedChampion, serve

    home = default_home()
    # The champion only: the same arguments as a predict that names no checkpoint.
    unnamed = {"run": None, "repo": None, "epoch": None, "revision": None, "hub": None}
    champion_args = argparse.Namespace(**vars(args), **unnamed, base_model=None)

    def load() -> LoadedChampion:
        named = _named_or_champion(champion_args)
        about = {"repo_id": named.repo, "revision": named.revision}
        champion = read_champion(home)  # once more, for its run and epoch, if it still names it
        if champion is not None and champion.revision == named.revision:
            about.update(run=champion.run_key, epoch=champion.epoch)
        return LoadedChampion(about, _load_pricer(named))

    def say(message: str) -> None:
        print(f"pricer: {message}", file=sys.stderr, flush=True)

    holder = ChampionHolder(pointer_path(home), load, say)
    _stop_on_interrupt_or_term()
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a person stops it
        try:
            serve(holder, args.host, args.port, lambda at: say(f"serving the champion at {at}"))
        except OSError as error:  # the port is taken, or the address is not this machine's
            where = f"{args.host}:{args.port}"
            raise UsageError(f"cannot listen on {where}: {error.strerror}") from None
    return 0


def _stop_on_interrupt_or_term() -> None:
    """SIGTERM (what `kill`, systemd and Kubernetes send) stops the server as Ctrl-C does. Both are
    set here because a process inherits ignored signals: started from a background job, or from
    a process where Dagster maps SIGTERM to an ignored SIGINT, it would ignore both and never stop.
    """
    import signal

    def interrupt(number: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)


def _load_pricer(args: argparse.Namespace) -> Callable[[list[str]], list[float | None]]:
    """The named checkpoint loaded to price descriptions with, by the predictor asked for."""
    device, precision = _device_and_precision(args.device, args.precision)
    with tempfile.TemporaryDirectory(prefix="pricer-predict-") as scratch:
        adapter = _download(args, Path(scratch) / "adapter")
        base = _base_model(args)
        # Both loaders read the adapter into memory: the scratch folder can go.
        decode = _ready_decoder(base, adapter, precision, args) if device == "cpu" else None
        if decode is None:
            decode = _transformers_decoder(base, adapter, device, precision, args)
    weighted = not args.greedy
    return lambda texts: [d.price(weighted=weighted) for d in decode(texts)]


def _device_and_precision(device: str, precision: str) -> tuple[str, str]:
    # Before the checkpoint is fetched or a weight read: fp16 on a CPU, say, is one line.
    from pricer.model.device import pick_device
    from pricer.model.precision import choose_precision

    try:
        device = pick_device(device)
        return device, choose_precision(precision, device).name
    except (ValueError, RuntimeError) as error:
        raise UsageError(str(error)) from None


def _ready_decoder(base: str, adapter: Path, precision: str, args: argparse.Namespace):
    """On the CPU: the base's ready copy and the plain-torch decoder, loaded in a moment. None
    for a base the decoder does not run (not a plain Llama), which transformers then prices."""
    from pricer.serving.decoder import AdapterMismatch, UnsupportedModel
    from pricer.serving.loading import load_ready
    from pricer.serving.pricing import price_descriptions

    def say(message: str) -> None:
        print(f"pricer: {message}", file=sys.stderr)

    try:
        decoder, tokenizer = load_ready(default_home(), base, adapter, precision, say)
    except UnsupportedModel as error:
        say(f"{error}; pricing through transformers instead")
        return None
    except AdapterMismatch as error:
        raise UsageError(str(error)) from None
    return lambda texts: price_descriptions(
        decoder, tokenizer, texts, args.max_text_tokens, args.batch_size, not args.greedy
    )


def _transformers_decoder(
    base: str, adapter: Path, device: str, precision: str, args: argparse.Namespace
):
    """The 4-bit base with the adapter under PEFT, as scoring loads it: on a GPU, or any base."""
    from pricer.data.prompts import make_prompt
    from pricer.evaluation.decoding import decode
    from pricer.evaluation.scoring import load_for_pricing

    model, tokenizer = load_for_pricing(base, str(adapter), device, precision, default_home())

    def priced(texts: list[str]):
        # The text budget the model was trained with: a longer description would be a new task.
        encoded = tokenizer(texts, add_special_tokens=False)["input_ids"]
        cut = [
            tokenizer.decode(ids[: args.max_text_tokens], skip_special_tokens=True).strip()
            if len(ids) > args.max_text_tokens
            else text.strip()
            for text, ids in zip(texts, encoded, strict=True)
        ]
        prompts = [make_prompt(t) for t in cut]
        return decode(model, tokenizer, prompts, args.batch_size, weighted=not args.greedy)

    return priced


def _export(args: argparse.Namespace) -> int:
    try:
        # Before anything is downloaded: nothing is ever written over.
        (require_new_file if args.format == "gguf" else require_empty_folder)(args.output)
    except FileExistsError as error:
        raise UsageError(str(error)) from error
    args = _named_or_champion(args)
    try:
        # A base the GGUF writer cannot take is known before the checkpoint is fetched.
        tokenizer = tokenizer_gguf_for(args.base_model) if args.format == "gguf" else None
    except ValueError as error:
        raise UsageError(str(error)) from error
    with tempfile.TemporaryDirectory(prefix="pricer-export-") as scratch:
        adapter = _download(args, Path(scratch) / "adapter")
        try:
            if tokenizer is not None:
                from pricer.release.gguf_export import export_gguf

                export_gguf(_base_model(args), adapter, args.output, tokenizer, args.gguf_type)
            else:
                export_merged(_base_model(args), adapter, args.output, args.dtype)
        except (ValueError, FileExistsError) as error:
            raise UsageError(str(error)) from error
    print(args.output)
    return 0


def _download(args: argparse.Namespace, dest: Path) -> Path:
    """The chosen checkpoint's adapter, checked out to `dest`; every mistake is a UsageError."""
    from pricer.model.weight_files import DamagedWeights

    store, repo_id, revision = _checkpoint(args)
    try:
        return store.download(repo_id, revision, dest)
    except DamagedWeights as error:
        raise UsageError(str(error)) from error
    except _not_found(args.hub) as error:
        if revision == BEST_TAG:
            raise UsageError(
                f"{repo_id} has no checkpoint tagged {BEST_TAG!r} yet (its select_best job "
                "has not run): pass --epoch or --revision"
            ) from error
        raise UsageError(f"{repo_id} has no revision {revision!r}") from error


def _base_model(args: argparse.Namespace) -> str:
    """What from_pretrained takes for --base-model (the embedded model is converted once)."""
    from pricer.model.source import resolve_base_model

    try:
        return resolve_base_model(args.base_model, default_home() / "models")
    except ValueError as error:
        raise UsageError(str(error)) from error


def _texts(text: str | None, jsonl: Path | None) -> list[str]:
    if (text is None) == (jsonl is None):
        raise UsageError("give a description, or --jsonl FILE, and not both")
    if text is not None:
        if not text.strip():
            raise UsageError("the description is empty")
        return [text]
    try:
        lines = jsonl.read_bytes().splitlines()
    except OSError as error:
        raise UsageError(f"cannot read {jsonl}: {error.strerror}") from error
    texts = []
    for number, raw in enumerate(lines, start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise UsageError(
                f"{jsonl}:{number}: not UTF-8 (byte 0x{raw[error.start]:02x} at column "
                f"{error.start + 1}); save the file as UTF-8"
            ) from error
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise UsageError(f"{jsonl}:{number}: not JSON ({error.msg})") from error
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            raise UsageError(f"{jsonl}:{number}: no 'text' field holding a string")
        texts.append(row["text"])
    if not texts:
        raise UsageError(f"{jsonl} holds no rows")
    return texts


def _named_or_champion(args: argparse.Namespace) -> argparse.Namespace:
    """The arguments with hub and base model settled: as named, else the champion's checkpoint."""
    if args.run is not None or args.repo is not None:
        return argparse.Namespace(
            **{
                **vars(args),
                "hub": args.hub or os.environ.get("PRICER_HUB", "local"),
                "base_model": args.base_model or os.environ.get("PRICER_BASE_MODEL", "embedded"),
            }
        )
    if args.epoch is not None or args.revision is not None:
        raise UsageError(
            "--epoch and --revision choose within a checkpoint's repo: add --run or --repo"
        )
    home = default_home()
    try:
        champion = read_champion(home)
    except DamagedPointer as error:
        raise UsageError(str(error)) from None
    if champion is None:
        raise UsageError(
            f"there is no champion yet ({pointer_path(home)} does not exist: the promote_champion "
            "job writes it): name a checkpoint with --run RUN [--epoch N] or --repo REPO "
            "[--revision R]"
        )
    if args.hub not in (None, champion.hub):
        raise UsageError(
            f"the champion is on the {champion.hub} hub, not {args.hub}: drop --hub, or name a "
            "checkpoint with --repo"
        )
    return argparse.Namespace(
        **{
            **vars(args),
            "repo": champion.repo_id,
            "revision": champion.revision,
            "hub": champion.hub,
            "base_model": args.base_model or champion.base_model,
        }
    )


def _checkpoint(args: argparse.Namespace) -> tuple[CheckpointStore, str, str]:
    """The store, repo id and revision the arguments name; every mistake is a UsageError."""
    if args.epoch is not None and args.revision is not None:
        raise UsageError("--epoch and --revision name a checkpoint each: give one of them")
    if args.run is not None and args.repo is not None:
        raise UsageError("--run and --repo name a repo each: give one of them")
    if args.hub == "huggingface":
        from pricer.hub.hugging_face import HuggingFaceStore

        if args.repo is None or args.epoch is not None:
            raise UsageError("with --hub huggingface, name the checkpoint by --repo and --revision")
        return HuggingFaceStore(token=None), args.repo, args.revision or BEST_TAG
    from pricer.hub.local_git import LocalGitStore

    store = LocalGitStore(default_home() / "hub")
    repo_id = args.repo or f"{store.namespace}/{args.run}"
    try:
        history = store.history(repo_id)
    except FileNotFoundError as error:
        raise UsageError(f"no repo {repo_id} in the local hub under {store.root}") from error
    if args.epoch is None:
        return store, repo_id, args.revision or BEST_TAG
    message = checkpoint_message(repo_id.split("/")[-1], args.epoch)
    found = [revision for revision, subject in history if subject == message]
    if not found:
        pushed = ", ".join(subject.rsplit(" ", 1)[-1] for _, subject in reversed(history))
        raise UsageError(f"{repo_id} has no epoch {args.epoch}; pushed epochs: {pushed or 'none'}")
    return store, repo_id, found[0]


def _not_found(hub: str) -> tuple[type[Exception], ...]:
    """What each store raises for a repo or revision it does not hold."""
    if hub == "huggingface":
        from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

        return (RepositoryNotFoundError, RevisionNotFoundError)
    return (LookupError,)


if __name__ == "__main__":
    sys.exit(main())
