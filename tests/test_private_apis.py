"""The private APIs pricer still leans on, each kept in one place for a reason its comment gives.
An upgrade that removes or reshapes one fails here, by name, before it fails a training run."""

import inspect
import multiprocessing.forkserver

from transformers import Trainer


def test_the_fork_server_can_still_be_stopped():
    # pipelines/step_processes.py: the standard library offers no public way to replace its
    # one fork server, and each run launched from Python needs a server of its own.
    server = multiprocessing.forkserver._forkserver
    assert callable(getattr(server, "_stop", None)), "multiprocessing.forkserver lost _stop()"


def test_the_trainer_hooks_the_exact_resume_overrides_still_exist():
    # pricer/training/trainer.py: resuming bit for bit and publishing step checkpoints whole
    # override these Trainer methods; transformers has no public hook at those points.
    expected = {
        "_load_from_checkpoint": ["self", "resume_from_checkpoint", "model"],
        "_save_checkpoint": ["self", "model", "trial"],
        "_save_optimizer_and_scheduler": ["self", "output_dir"],
        "_get_output_dir": ["self", "trial"],
    }
    for name, parameters in expected.items():
        method = getattr(Trainer, name, None)
        assert method is not None, f"transformers.Trainer lost {name}"
        assert list(inspect.signature(method).parameters) == parameters, name


def test_trls_chunked_log_probability_kernel_is_still_there():
    # pricer/training/completion_loss.py runs TRL's own kernel on the labelled positions only,
    # so the loss stays TRL's to the bit.
    from trl.kernels.chunked_logprob import ChunkedLogProbFunction

    assert callable(ChunkedLogProbFunction.apply)


def test_bitsandbytes_still_marks_the_layers_it_repacks_for_its_cpu_kernel():
    # pricer/model/quantization.py: dequantize_once refuses a model whose 4-bit layers
    # bitsandbytes has repacked for its AVX512_BF16 kernel (they no longer dequantize to their
    # weights), and knows them by this flag on their quant state.
    import bitsandbytes.functional

    repack = getattr(bitsandbytes.functional, "_convert_weight_packed_for_cpu", None)
    assert repack is not None, "bitsandbytes lost _convert_weight_packed_for_cpu"
    assert "packing_format_for_cpu = True" in inspect.getsource(repack)
