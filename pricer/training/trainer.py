"""QLoRA fine-tuning one epoch at a time, as one continuous run.

Every epoch is trained by a Trainer built for the run's full length, so the warm-up and cosine
schedule span all epochs; it stops at the end of epoch k and saves a checkpoint with optimizer,
scheduler and RNG state. Epoch k+1 resumes from that checkpoint, so training epoch by epoch is the
same training as one uninterrupted run (tests/test_training_resume.py shows it).

Within an epoch, a checkpoint of the same kind is saved every `save_steps` steps. An attempt at
epoch k that was killed leaves them behind, and the next attempt resumes from the newest instead
of from the end of epoch k-1 (tests/test_preemption.py kills one at named points). A stop signal
saves the step in progress first, and stops (stop_signals.py).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from transformers import PrinterCallback, TrainerCallback, TrainerState

from pricer.data.items import Item
from pricer.data.prompts import make_completion, make_prompt
from pricer.model.lora import LoraSettings
from pricer.training import step_checkpoints, stop_signals
from pricer.training.epoch_result import EpochResult, Progress
from pricer.training.pause_points import pause_at
from pricer.training.settings import TrainingSettings


def to_prompt_completion(items: list[Item]) -> list[dict[str, str]]:
    return [{"prompt": make_prompt(i.text), "completion": make_completion(i.price)} for i in items]


def build_trainer(
    model_path: str,
    train_items: list[Item],
    eval_items: list[Item],
    settings: TrainingSettings,
    output_dir: Path,
    device: str = "auto",
    report_to: str = "none",
    callbacks: list[TrainerCallback] | None = None,
    max_steps: int = -1,
    precision: str = "auto",
    home: Path | None = None,
):  # -> SFTTrainer
    """The trainer for a whole run with `settings`, its 4-bit base loaded and computing in
    `precision` (model/precision.py): every epoch trains with one built alike, and the training
    benchmark measures it. On the CPU the base's NF4 weights are dequantized once, read from its
    ready copy under `home` (model/ready_copy.py). `max_steps` cuts a run short."""
    import datasets
    from datasets import Dataset
    from trl import SFTConfig

    from pricer.model.device import pick_device
    from pricer.model.precision import choose_precision
    from pricer.model.quantization import load_tokenizer
    from pricer.model.ready_copy import load_base

    device = pick_device(device)
    precision = choose_precision(precision, device).name  # before any weight is read
    tokenizer = load_tokenizer(model_path)
    tokenizer.padding_side = "right"
    if settings.liger_kernel:
        from transformers import AutoConfig

        from pricer.training.preflight import check_liger_applies

        check_liger_applies(AutoConfig.from_pretrained(model_path).model_type)
        _patch_llama_with_liger()  # before the model is built: it swaps the classes' modules
    model = load_base(model_path, device, precision, home)
    use_cuda = device == "cuda"
    config = SFTConfig(
        output_dir=str(output_dir),
        num_train_epochs=settings.epochs,
        max_steps=max_steps,
        per_device_train_batch_size=settings.batch_size,
        per_device_eval_batch_size=settings.batch_size,
        gradient_accumulation_steps=settings.gradient_accumulation_steps,
        learning_rate=settings.learning_rate,
        lr_scheduler_type=settings.lr_scheduler,
        warmup_steps=settings.warmup_ratio,  # transformers 5 takes a ratio as a float here
        weight_decay=settings.weight_decay,
        max_grad_norm=settings.max_grad_norm,
        optim=_optimizer(settings.optimizer, use_cuda),
        gradient_checkpointing=settings.gradient_checkpointing,
        torch_compile=settings.torch_compile,
        # Batches of similar lengths carry less padding; the order is still seeded and resumable.
        train_sampling_strategy="group_by_length" if settings.length_grouped else "random",
        # Mixed precision as the model computes; fp32 needs none.
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        # No truncation by TRL: it would cut the price off the end. The length is enforced below.
        max_length=None,
        completion_only_loss=True,
        # Evaluating inside the loop would draw on the RNG after the checkpoint captured it, and a
        # resumed epoch would then differ from a continuous run: evaluate after training instead.
        eval_strategy="no",
        # The evaluation loss is all that is read; without logits it takes the same short path.
        prediction_loss_only=True,
        # Every save_steps steps, and at each epoch's end (_StopAfterEpoch asks for that one).
        save_strategy="steps",
        save_steps=settings.save_steps,
        logging_steps=1,
        include_num_input_tokens_seen="non_padding",
        report_to=report_to,
        seed=settings.seed,
        data_seed=settings.seed,
        use_cpu=not use_cuda,
        dataloader_pin_memory=use_cuda,
        disable_tqdm=True,
        # Under DDP every LoRA weight gets a gradient each step: skip the search for unused ones.
        ddp_find_unused_parameters=False,
    )
    datasets.disable_progress_bars()
    trainer = _exact_resume_trainer()(
        model=model,
        args=config,
        train_dataset=Dataset.from_list(to_prompt_completion(train_items)),
        eval_dataset=Dataset.from_list(to_prompt_completion(eval_items)),
        processing_class=tokenizer,
        peft_config=_peft_config(settings.lora),
        callbacks=callbacks,
    )
    trainer.remove_callback(PrinterCallback)  # progress goes through callbacks, not stdout
    # TRL casts a new adapter to bf16 on a 4-bit base; the CPU's ready copy is a plain model to
    # it, so the cast is made here, and every device starts from the same bf16-rounded weights.
    # The adapter then trains in the run's precision: fp32 outside bf16 (bf16 would be emulated,
    # and fp16's gradient scaler needs fp32 weights).
    import torch

    adapter_dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    for parameter in trainer.model.parameters():
        if parameter.requires_grad:
            parameter.data = parameter.data.to(torch.bfloat16).to(adapter_dtype)
    for split in (trainer.train_dataset, trainer.eval_dataset):
        _refuse_truncated_prices(split, settings.max_length)
    return trainer


def train_epoch(
    model_path: str,
    train_items: list[Item],
    eval_items: list[Item],
    settings: TrainingSettings,
    epoch: int,
    output_dir: Path,
    resume_from: Path | None,
    device: str = "auto",
    report_to: str = "none",
    progress: Progress | None = None,
    precision: str = "auto",
    home: Path | None = None,
) -> EpochResult:
    """Train until the end of epoch `epoch`, resuming from `resume_from` (a checkpoint saved at
    the end of an earlier epoch of the same run) or from scratch.

    The epoch's checkpoints go to `output_dir/epoch_<epoch>`. If an earlier attempt at this epoch
    was killed, training resumes from the newest checkpoint it left there instead.
    """
    import torch

    started = time.perf_counter()
    epoch_dir = output_dir / f"epoch_{epoch}"
    step_checkpoints.discard_unpublished(epoch_dir)
    left_behind = step_checkpoints.newest(epoch_dir)
    trainer = build_trainer(
        model_path,
        train_items,
        eval_items,
        settings,
        epoch_dir,
        device,
        report_to,
        callbacks=[
            _StopAfterEpoch(epoch),
            _ProgressReporter(progress, epoch),
            _PausePoints(),
            _StopAtStepEnd(),  # after the pause points: a stop that ends a pause saves that step
        ],
        precision=precision,
        home=home,
    )
    setup_seconds = time.perf_counter() - started
    previous_step = _global_step(resume_from)
    previous_tokens = _tokens_seen(resume_from)
    start = left_behind or resume_from
    if progress is not None:
        progress(f"epoch {epoch}: from global step {_global_step(start)}, {_origin(start)}")
    if left_behind is not None and _epochs_done(left_behind) >= epoch:
        # Killed after its last step was saved: the trained epoch only needs evaluating.
        trainer._load_from_checkpoint(str(left_behind))
        trainer.state = TrainerState.load_from_json(str(left_behind / "trainer_state.json"))
    else:
        with stop_signals.deferring_stop_signals():
            trainer.train(resume_from_checkpoint=str(start) if start else None)
        stop_signals.raise_if_stopped(trainer.state.global_step)
    eval_loss = trainer.evaluate()["eval_loss"]
    state = trainer.state
    checkpoint_dir = epoch_dir / f"checkpoint-{state.global_step}"
    if not checkpoint_dir.exists():
        trainer.save_model(str(checkpoint_dir))
    del trainer
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return _summarise(
        state.log_history,
        epoch,
        checkpoint_dir,
        state.global_step,
        previous_step,
        state.num_input_tokens_seen - previous_tokens,
        time.perf_counter() - started,
        setup_seconds,
        eval_loss,
    )


def _patch_llama_with_liger() -> None:
    # Only what applies under TRL 1.16 with a 4-bit base: TRL's own head refuses Liger's fused
    # linear cross-entropy, so the loss stays TRL's. The patch is global to the process, which is
    # the step's own.
    from liger_kernel.transformers import apply_liger_kernel_to_llama

    apply_liger_kernel_to_llama(
        rope=True, rms_norm=True, swiglu=True, cross_entropy=False, fused_linear_cross_entropy=False
    )


def _optimizer(name: str, use_cuda: bool) -> str:
    if name != "auto":
        return name
    # bitsandbytes' paged optimizers page through CUDA unified memory; the CPU has none.
    return "paged_adamw_32bit" if use_cuda else "adamw_torch"


def _peft_config(lora: LoraSettings):  # -> peft.LoraConfig
    from peft import LoraConfig

    return LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=list(lora.target_modules),
        bias="none",
        task_type="CAUSAL_LM",
    )


def _refuse_truncated_prices(dataset, max_length: int) -> None:
    # A longer example would have to lose its end, which is the price: curate shorter texts instead.
    longest = max(len(ids) for ids in dataset["input_ids"])
    if longest > max_length:
        raise ValueError(
            f"an example is {longest} tokens, over max_length={max_length}, so its price "
            "would be cut off; lower the dataset's max_text_tokens or raise max_length"
        )


def _global_step(checkpoint: Path | None) -> int:
    return _trainer_state(checkpoint).get("global_step", 0)


def _epochs_done(checkpoint: Path) -> float:
    return _trainer_state(checkpoint).get("epoch", 0.0)


def _origin(start: Path | None) -> str:
    if start is None:
        return "from scratch"
    return f"resumed from {start.parent.name}/{start.name}"


def _tokens_seen(checkpoint: Path | None) -> int:
    return _trainer_state(checkpoint).get("num_input_tokens_seen", 0)


def _trainer_state(checkpoint: Path | None) -> dict:
    if checkpoint is None:
        return {}
    return json.loads((checkpoint / "trainer_state.json").read_text())


def _summarise(
    history: list[dict],
    epoch: int,
    checkpoint_dir: Path,
    global_step: int,
    previous_step: int,
    tokens: int,
    seconds: float,
    setup_seconds: float,
    eval_loss: float,
) -> EpochResult:
    steps = [h for h in history if "loss" in h and h["step"] > previous_step]
    losses = [(h["step"], float(h["loss"])) for h in steps]
    return EpochResult(
        epoch=epoch,
        checkpoint_dir=checkpoint_dir,
        global_step=global_step,
        steps_this_epoch=global_step - previous_step,
        train_loss=sum(loss for _, loss in losses) / max(len(losses), 1),
        eval_loss=float(eval_loss),
        learning_rate=float(steps[-1]["learning_rate"]) if steps else 0.0,
        tokens_this_epoch=int(tokens),
        seconds=seconds,
        setup_seconds=setup_seconds,
        step_losses=losses,
        step_learning_rates=[(h["step"], float(h["learning_rate"])) for h in steps],
    )


def _exact_resume_trainer():
    from trl import SFTTrainer

    from pricer.training.completion_loss import completion_loss, supports_completion_loss

    class ExactResumeTrainer(SFTTrainer):
        """PEFT upcasts a reloaded adapter to fp32, while TRL trains QLoRA adapters in bf16 when
        the run computes in bf16. Casting back keeps a resumed epoch exactly on the path of one
        continuous run.

        Checkpoints are written out of sight and published whole (training/step_checkpoints.py), so
        a process killed mid-save never leaves one that looks complete."""

        _saved_at_step: int | None = None

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            # On the CPU, TRL would put every position through the LM head; the labelled ones
            # give the same loss (training/completion_loss.py), in training and in evaluation.
            if return_outputs or not self._labelled_positions_only():
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            head = self.model.get_output_embeddings()
            # TRL applies the head inside the model's forward, so under its mixed precision.
            with self.accelerator.autocast():
                loss = completion_loss(model, head, inputs, num_items_in_batch)
            if self.args.average_tokens_across_devices and num_items_in_batch is not None:
                # As TRL scales it: DDP averages gradients over ranks, the tokens were summed.
                loss = loss * self.accelerator.num_processes
            return loss

        def _labelled_positions_only(self) -> bool:
            # Only where the loss is TRL's plain one: any variant it offers keeps its own path.
            plain_loss = (
                self.args.loss_type == "nll"
                and self.label_smoother is None
                and self.compute_loss_func is None
                and not self.aux_loss_enabled
            )
            return self.args.use_cpu and plain_loss and supports_completion_loss(self.model)

        def _get_output_dir(self, trial) -> str:
            return str(Path(self.args.output_dir) / step_checkpoints.UNPUBLISHED)

        def _save_checkpoint(self, model, trial) -> None:
            # The epoch's last step may be a save step too: saved already. Decided from the
            # trainer's own state, never the folder, so every DDP rank makes the same choice and
            # joins the same collectives (rank 0 may have published it before rank 1 looks).
            if self._saved_at_step == self.state.global_step:
                return
            super()._save_checkpoint(model, trial)
            self._saved_at_step = self.state.global_step
            folder = Path(self.args.output_dir)
            if self.args.should_save:  # the main process, under DDP
                step_checkpoints.publish(folder, self.state.global_step)
                step_checkpoints.prune(folder)

        def _save_optimizer_and_scheduler(self, output_dir: str) -> None:
            # The adapter is written, the optimizer not yet: a half-saved checkpoint.
            pause_at("save", global_step=self.state.global_step)
            super()._save_optimizer_and_scheduler(output_dir)

        def _load_from_checkpoint(self, resume_from_checkpoint, model=None):
            dtypes = {n: p.dtype for n, p in self.model.named_parameters() if p.requires_grad}
            super()._load_from_checkpoint(resume_from_checkpoint, model)
            for name, parameter in self.model.named_parameters():
                if name in dtypes and parameter.dtype != dtypes[name]:
                    parameter.data = parameter.data.to(dtypes[name])

    return ExactResumeTrainer


class _StopAfterEpoch(TrainerCallback):
    """Ends training at the close of epoch `epoch`, after the epoch's checkpoint is saved."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_epoch_end(self, args, state, control, **kwargs):
        control.should_save = True  # every epoch ends on a checkpoint, whatever save_steps is
        if state.epoch is not None and round(state.epoch) >= self.epoch:
            control.should_training_stop = True
        return control


class _StopAtStepEnd(TrainerCallback):
    """At the end of the optimizer step in progress when a stop signal came, saves and stops."""

    def on_step_end(self, args, state, control, **kwargs):
        if stop_signals.stop_everywhere():
            control.should_save = True
            control.should_training_stop = True
        return control


class _PausePoints(TrainerCallback):
    """Where the preemption test can stop training from outside (training/pause_points.py)."""

    def on_step_end(self, args, state, control, **kwargs):
        per_epoch = state.max_steps // state.num_train_epochs
        epoch, done = divmod(state.global_step - 1, per_epoch)
        done += 1  # steps of the current epoch, this one included
        where = {"global_step": state.global_step, "epoch": epoch + 1}
        if 3 * done > per_epoch:  # past the first third
            pause_at("early_in_epoch", **where)
        if 4 * done >= 3 * per_epoch:  # three quarters or more
            pause_at("late_in_epoch", **where)

    def on_prediction_step(self, args, state, control, **kwargs):
        pause_at("evaluation", global_step=state.global_step)


class _ProgressReporter(TrainerCallback):
    """Forwards a line every few steps, so a long epoch shows where it is."""

    def __init__(self, progress: Progress | None, epoch: int) -> None:
        self.progress = progress
        self.epoch = epoch

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.progress is None or not logs or "loss" not in logs:
            return
        every = max(state.max_steps // 50, 1)
        if state.global_step % every == 0 or state.global_step == state.max_steps:
            self.progress(
                f"epoch {self.epoch}: step {state.global_step}/{state.max_steps} "
                f"loss {logs['loss']:.4f} lr {logs.get('learning_rate', 0):.2e}"
            )
