"""`train` and `TrainConfig` as a `TrainingArguments`: the caller's model is left alone with LoRA, checkpoints resume to
the same weights, the unmerged adapter saves and loads, and Trainer options reach the Trainer. Tiny Llama, Qwen2 and
GPT-2 models on the CPU; a few seconds each."""
import json, warnings
from pathlib import Path

import pytest
import torch
from peft import PeftModel
from transformers import TrainerCallback

from safetune.core import Record
from safetune.testing import tiny_causal_lm, tiny_chat_tokenizer
from safetune.train import SFT, TrainConfig, merged, save_model, train

ARCHS = {"llama": "llama3", "qwen2": "chatml", "gpt2": "chatml"}   # architecture -> chat style of its tokenizer
WORDS = "apple river stone cloud tiger maple piano candle".split()
MAIN = [Record(f"Repeat the word {w}.", w) for w in WORDS]
AUX = [Record(f"Say {w} twice.", f"{w} {w}") for w in WORDS[:3]]


def _setup(arch):
    tok = tiny_chat_tokenizer(ARCHS[arch])
    return tok, lambda: tiny_causal_lm(tok, arch, hidden=32, layers=2, seed=0)


def _cfg(**kw):
    return TrainConfig(**{**dict(max_steps=3, per_device_train_batch_size=2, aux_batch_size=1, learning_rate=1e-2,
                                 logging_steps=1, seed=0), **kw})


def _state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _logits(model, tok):
    x = torch.tensor([tok("Repeat the word apple.")["input_ids"]])
    with torch.no_grad(): return model.eval()(x).logits


@pytest.mark.parametrize("arch", ARCHS)
def test_lora_leaves_the_callers_model_alone(arch):
    tok, build = _setup(arch)
    model = build(); before = _state(model)
    res = train(model, tok, SFT(), MAIN, AUX, cfg=_cfg(), progress=False)
    assert _same(_state(model), before), "train changed the caller's model"
    assert not any("lora" in n for n, _ in model.named_modules()) and isinstance(res.model, PeftModel)
    trained = _state(merged(res.model))                            # merging changes the trained copy only
    assert _same(_state(model), before)
    assert not _same(trained, before), "the returned model did not train"
    assert not torch.equal(_logits(model, tok), _logits(res.model, tok))


@pytest.mark.parametrize("arch", ARCHS)
def test_inplace_and_full_fine_tuning_change_the_callers_model(arch):
    tok, build = _setup(arch)
    model = build()
    res = train(model, tok, SFT(), MAIN, AUX, cfg=_cfg(max_steps=1), progress=False, inplace=True)
    assert res.model.get_base_model() is model and any("lora" in n for n, _ in model.named_modules())
    model = build(); before = _state(model)
    res = train(model, tok, SFT(), MAIN, AUX, cfg=_cfg(max_steps=1, warmup_steps=0, lora=False), progress=False)
    assert res.model is model and not _same(_state(model), before)


class StopAt(TrainerCallback):
    "Ends training after optimizer step `step`, as an interruption would (the schedule is still the full run's)."
    def __init__(self, step): self.step = step
    def on_step_end(self, args, state, control, **kw):
        if state.global_step == self.step: control.should_training_stop = True


@pytest.mark.parametrize("arch", ARCHS)
def test_resume_from_checkpoint_gives_the_uninterrupted_weights(arch, tmp_path):
    tok, build = _setup(arch)
    cfg = dict(max_steps=6, gradient_accumulation_steps=2)          # LoRA dropout on: the RNG state must come back too
    full = train(build(), tok, SFT(), MAIN, AUX, cfg=_cfg(**cfg), progress=False)
    ckpt = dict(save_strategy="steps", save_steps=3, output_dir=str(tmp_path / "ckpt"))
    part = train(build(), tok, SFT(), MAIN, AUX, cfg=_cfg(**cfg, **ckpt), probes=[StopAt(3)], progress=False)
    assert part.history.step.max() == 3 and (tmp_path / "ckpt" / "checkpoint-3" / "adapter_model.safetensors").exists()
    assert not _same(_state(merged(part.model)), _state(merged(full.model)))
    latest = train(build(), tok, SFT(), MAIN, AUX, cfg=_cfg(**cfg, **ckpt, resume_from_checkpoint=True), progress=False)
    assert latest.history.step.tolist() == [1, 2, 3, 4, 5, 6]                 # steps 1-3 come from the checkpoint's log
    assert latest.history.loss.tolist() == full.history.loss.tolist()
    assert _same(_state(merged(latest.model)), _state(merged(full.model)))     # True: the latest checkpoint (3) in output_dir
    resumed = train(build(), tok, SFT(), MAIN, AUX, cfg=_cfg(**cfg, **ckpt), progress=False,
                    resume_from_checkpoint=str(tmp_path / "ckpt" / "checkpoint-3"))   # named, now that checkpoint-6 exists too
    assert _same(_state(merged(resumed.model)), _state(merged(full.model)))


@pytest.mark.parametrize("arch", ARCHS)
def test_unmerged_adapter_saves_and_loads(arch, tmp_path):
    tok, build = _setup(arch)
    cfg = _cfg(merge_adapter=False)
    res = train(build(), tok, SFT(), MAIN, AUX, cfg=cfg, progress=False)
    out = save_model(res.model, tok, tmp_path / "out", meta={"config": cfg.to_dict()}, merge=cfg.merge_adapter)
    names = {p.name for p in out.iterdir()}
    assert {"adapter_config.json", "adapter_model.safetensors", "safetune.json"} <= names and "model.safetensors" not in names
    assert json.loads((out / "safetune.json").read_text())["config"]["merge_adapter"] is False
    back = PeftModel.from_pretrained(build(), out)
    torch.testing.assert_close(_logits(back, tok), _logits(res.model, tok), rtol=0, atol=1e-5)
    assert isinstance(res.model, PeftModel) and any("lora" in n for n, _ in res.model.named_modules())   # nothing merged


class Seen(TrainerCallback):
    "Keeps the arguments the Trainer ran with."
    def on_train_begin(self, args, state, control, **kw): self.args = args


@pytest.mark.parametrize("arch", ARCHS)
def test_training_arguments_reach_the_trainer(arch):
    tok, build = _setup(arch)
    seen = Seen()
    cfg = _cfg(max_steps=2, report_to="none", activation_checkpointing=True, optim="adamw_torch", adam_beta2=0.9,
               lr_scheduler_type="linear", eval_strategy="steps", eval_steps=1, per_device_eval_batch_size=3)
    res = train(build(), tok, SFT(), MAIN, AUX, cfg=cfg, probes=[seen], progress=False, eval_records=MAIN[:5])
    a = seen.args
    assert (a.optim, a.adam_beta2, a.lr_scheduler_type, a.report_to) == ("adamw_torch", 0.9, "linear", [])
    assert a.activation_checkpointing and res.model.is_activation_checkpointing
    assert a.per_device_train_batch_size == 2 + 1 and cfg.per_device_train_batch_size == 2   # main + auxiliary rows; cfg untouched
    assert cfg.output_dir is None and a.output_dir and not Path(a.output_dir).exists()         # a temporary directory, removed
    assert res.evals.step.tolist() == [1, 2] and res.evals.eval_loss.notna().all()
    assert len(res.history) == 2 and "eval_loss" not in res.history
    with pytest.raises(ValueError, match="eval_strategy"):
        train(build(), tok, SFT(), MAIN, cfg=_cfg(), progress=False, eval_records=MAIN)   # an eval set nobody would evaluate
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        assert TrainConfig(gradient_checkpointing=True).activation_checkpointing   # the deprecated name is accepted


def test_config_checks():
    with pytest.raises(ValueError, match="--max-steps/--steps must be >= 1, got 0"): TrainConfig(max_steps=0)
    with pytest.raises(ValueError, match="needs --output-dir"): TrainConfig(save_strategy="steps")
    with pytest.raises(ValueError, match="part"): TrainConfig(remove_unused_columns=True)
    assert TrainConfig(max_steps=40, warmup_steps=0.05).get_warmup_steps(40) == 2   # ceil(0.05 · 40), as before
