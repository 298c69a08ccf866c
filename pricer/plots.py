"""Pictures a person would rather look at than read, as PNG bytes for any front end."""

from __future__ import annotations

import io

from pricer.evaluation.metrics import is_hit


def _pyplot():
    # Imported on first use: matplotlib costs a second, and most processes never draw.
    import matplotlib

    matplotlib.use("Agg")  # no display: render straight to PNG
    import matplotlib.pyplot as plt

    return plt


def _png(figure) -> bytes:
    plt = _pyplot()
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    return buffer.getvalue()


def price_histogram(prices: list[float], title: str = "Prices") -> bytes:
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(6, 3))
    axes.hist(prices, bins=40, color="#4c72b0")
    axes.set(title=title, xlabel="price ($)", ylabel="items")
    return _png(figure)


def truth_vs_guess(truths: list[float], guesses: list[float | None], title: str) -> bytes:
    filled = [g if g is not None else 0.0 for g in guesses]
    colours = [
        "#2a9d8f" if is_hit(t, g) else "#e76f51" for t, g in zip(truths, filled, strict=True)
    ]
    top = max([*truths, *filled, 1.0])
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(5, 5))
    axes.plot([0, top], [0, top], color="#999999", linewidth=1)
    axes.scatter(truths, filled, c=colours, s=12)
    axes.set(title=title, xlabel="true price ($)", ylabel="guess ($)", xlim=(0, top), ylim=(0, top))
    axes.legend(
        handles=[
            plt.Line2D([], [], marker="o", linestyle="", color="#2a9d8f", label="hit"),
            plt.Line2D([], [], marker="o", linestyle="", color="#e76f51", label="miss"),
        ],
        loc="upper left",
    )
    return _png(figure)


def loss_curve(
    step_losses: list[tuple[int, float]],
    step_learning_rates: list[tuple[int, float]],
    epoch_ends: list[int],
) -> bytes:
    """Training loss per step with epoch boundaries, and the learning-rate schedule beneath."""
    plt = _pyplot()
    figure, (loss_axes, lr_axes) = plt.subplots(2, 1, figsize=(7, 4.5), sharex=True)
    loss_axes.plot(*zip(*step_losses, strict=True), color="#4c72b0", linewidth=1)
    loss_axes.set(title="Training loss", ylabel="loss")
    lr_axes.plot(*zip(*step_learning_rates, strict=True), color="#dd8452")
    lr_axes.set(title="Learning rate", xlabel="step", ylabel="lr")
    for end in epoch_ends:
        for axes in (loss_axes, lr_axes):
            axes.axvline(end, color="#bbbbbb", linestyle="--", linewidth=1)
    return _png(figure)


def validation_curve(
    epochs: list[int],
    validation_errors: list[float],
    chosen: int,
    onset: int | None,
    baselines: dict[str, float],
    greedy_errors: list[float] | None = None,
    validation_losses: list[float] | None = None,
    loss_rising: int | None = None,
) -> bytes:
    """The choosing $ error per epoch (the weighted price's), greedy's beside it, the chosen
    epoch and the onset marked; validation loss on its own axis, with its early warning."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(6, 3.5))
    axes.plot(epochs, validation_errors, marker="o", color="#4c72b0", label="weighted $ error")
    if greedy_errors is not None:
        axes.plot(
            epochs,
            greedy_errors,
            marker="s",
            color="#8172b3",
            linestyle="--",
            label="greedy $ error",
        )
    axes.scatter(
        [chosen],
        [validation_errors[epochs.index(chosen)]],
        s=160,
        facecolors="none",
        edgecolors="#2a9d8f",
        linewidths=2,
        label=f"chosen: epoch {chosen}",
        zorder=3,
    )
    if onset is not None:
        axes.axvline(
            onset, color="#e76f51", linestyle="--", label=f"overfitting from epoch {onset}"
        )
    if loss_rising is not None:
        axes.axvline(
            loss_rising,
            color="#e9c46a",
            linestyle=":",
            linewidth=2,
            label=f"val loss rising from epoch {loss_rising}",
        )
    for (name, value), style in zip(baselines.items(), (":", "-.", "--"), strict=False):
        axes.axhline(value, color="#999999", linestyle=style, linewidth=1, label=name)
    handles, labels = axes.get_legend_handles_labels()
    if validation_losses is not None:
        loss_axes = axes.twinx()
        (line,) = loss_axes.plot(
            epochs, validation_losses, marker="^", color="#f4a261", label="validation loss"
        )
        loss_axes.set_ylabel("validation loss")
        handles, labels = [*handles, line], [*labels, "validation loss"]
    axes.set(title="Validation per epoch", xlabel="epoch", ylabel="mean |error| ($)")
    axes.set_xticks(epochs)
    axes.legend(handles, labels, fontsize=7)
    return _png(figure)
