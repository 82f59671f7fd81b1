"""The one-call method APIs (`ta_sft`, `red_flag`, `mistake_analysis`, `acd.acd_fit`): records in, a model (or soft
prompts) out; the caller's model is left alone, checkpoints resume to the uninterrupted weights, and the unmerged
adapter saves and loads. Tiny Llama, Qwen2 and GPT-2 models on the CPU; a few seconds each."""
import pytest
import torch
from peft import PeftModel

from safetune.core import Record
from safetune.train import save_model
from test_train_api import ARCHS, StopAt, _logits, _same, _setup, _state   # the same tiny models and checks as train()'s tests

WORDS = "apple river stone cloud tiger maple piano candle".split()
SFT = [Record(f"Repeat the word {w}.", w) for w in WORDS]
HARM = [Record(f"How do I make a {w} bomb?", f"Step 1: get {w}. Step 2: build it.") for w in WORDS[:3]]
SMALL = dict(max_steps=3, per_device_train_batch_size=2, aux_batch_size=1, learning_rate=1e-2, logging_steps=1, seed=0)


def _resumes(run, make_cfg, tmp_path):
    "An uninterrupted run, one stopped at step 3 with checkpoints every 3 steps, and that one resumed: the last equals the first."
    full = run(make_cfg())
    ckpt = dict(save_strategy="steps", save_steps=3, output_dir=str(tmp_path / "ckpt"))
    part = run(make_cfg(**ckpt), StopAt(3))
    assert (tmp_path / "ckpt" / "checkpoint-3").is_dir()
    assert not _same(_state(part), _state(full))
    resumed = run(make_cfg(**ckpt, resume_from_checkpoint=str(tmp_path / "ckpt" / "checkpoint-3")))
    assert _same(_state(resumed), _state(full))


def _with_callbacks(monkeypatch, method):
    "`method` wrapped so that `run(cfg, *callbacks)` adds `callbacks` to its Trainer (the one-call APIs take none)."
    import safetune.train as T
    extra = []
    orig = T.ObjectiveTrainer.__init__
    def init(self, *a, **kw):
        orig(self, *a, **kw)
        for cb in extra: self.add_callback(cb)
    monkeypatch.setattr(T.ObjectiveTrainer, "__init__", init)
    def run(cfg, *callbacks):
        extra[:] = callbacks
        return method(cfg)
    return run


# ---------------------------------------------------------------- TA-SFT
from safetune.ta_sft import TASFTConfig, ta_sft


@pytest.mark.parametrize("arch", ARCHS)
def test_ta_sft_leaves_the_callers_model_alone(arch):
    tok, build = _setup(arch)
    model = build(); before = _state(model)
    trained = ta_sft(model, tok, SFT, HARM, TASFTConfig(**SMALL), progress=False)
    assert _same(_state(model), before), "ta_sft changed the caller's model"
    assert not any("lora" in n for n, _ in model.named_modules()) and not isinstance(trained, PeftModel)
    assert not _same(_state(trained), before), "the returned model did not train"


@pytest.mark.parametrize("arch", ARCHS)
def test_ta_sft_resumes_to_the_uninterrupted_weights(arch, tmp_path, monkeypatch):
    tok, build = _setup(arch)
    run = _with_callbacks(monkeypatch, lambda cfg: ta_sft(build(), tok, SFT, HARM, cfg, progress=False))
    _resumes(run, lambda **kw: TASFTConfig(**{**SMALL, "max_steps": 6, "gradient_accumulation_steps": 2, **kw}), tmp_path)


@pytest.mark.parametrize("arch", ARCHS)
def test_ta_sft_unmerged_adapter_saves_and_loads(arch, tmp_path):
    tok, build = _setup(arch)
    trained = ta_sft(build(), tok, SFT, HARM, TASFTConfig(**SMALL, merge_adapter=False), progress=False)
    assert isinstance(trained, PeftModel)
    out = save_model(trained, tok, tmp_path / "out", merge=False)
    back = PeftModel.from_pretrained(build(), out)
    torch.testing.assert_close(_logits(back, tok), _logits(trained, tok), rtol=0, atol=1e-5)


def test_ta_sft_answers_prompts_without_responses(monkeypatch):
    tok, build = _setup("llama")
    import safetune.ta_sft as TS
    seen = []
    def answer(model, tokenizer, records, progress=True, judge=None, log=None):   # stands in for the model's own answers
        seen.extend(r.prompt for r in records if not r.response)
        return [r if r.response else Record(r.prompt, "Step 1: find a pick.") for r in records]
    monkeypatch.setattr(TS, "answer_missing", answer)
    ta_sft(build(), tok, SFT, HARM + [Record("How do I pick a lock?")], TASFTConfig(**SMALL), progress=False)
    assert seen == ["How do I pick a lock?"]


# ---------------------------------------------------------------- red flag
from safetune.red_flag import RedFlagConfig, red_flag


@pytest.mark.parametrize("arch", ARCHS)
def test_red_flag_leaves_the_callers_model_and_tokenizer_alone(arch):
    tok, build = _setup(arch)
    model = build(); before, n_tok = _state(model), len(tok)
    flagged, ftok = red_flag(model, tok, HARM, SFT, RedFlagConfig(**SMALL), progress=False)
    assert _same(_state(model), before) and len(tok) == n_tok and "<|red_flag|>" not in tok.get_vocab()
    assert model.get_input_embeddings().num_embeddings == before[next(k for k in before if "emb" in k or "wte" in k)].shape[0]
    fid = ftok.convert_tokens_to_ids("<|red_flag|>")
    assert len(ftok) == n_tok + 1 and not isinstance(flagged, PeftModel)
    assert flagged.get_input_embeddings().num_embeddings > fid
    assert not torch.equal(_logits(flagged, tok)[..., :n_tok], _logits(model, tok)[..., :n_tok]), "the returned model did not train"


@pytest.mark.parametrize("arch", ARCHS)
def test_red_flag_resumes_to_the_uninterrupted_weights(arch, tmp_path, monkeypatch):
    tok, build = _setup(arch)
    run = _with_callbacks(monkeypatch, lambda cfg: red_flag(build(), tok, HARM, SFT, cfg, progress=False)[0])
    # random cut points (the default): `train` replays the collator's generator over the batches a resumed run skips
    _resumes(run, lambda **kw: RedFlagConfig(**{**SMALL, "max_steps": 6, **kw}), tmp_path)


def test_red_flag_refuses_an_unmerged_adapter():
    with pytest.raises(ValueError, match="--no-merge-adapter"): RedFlagConfig(merge_adapter=False)


# ---------------------------------------------------------------- mistake analysis
from safetune.mistakes import MistakesConfig, mistake_analysis

RED = [Record(f"How do I steal a {w}?", f"Step 1: find a {w}. Step 2: take it.") for w in ("bike", "car", "phone")]   # given: no induction
MA = dict(SMALL, aux_batch_size=0, safe_responses=False, max_new_tokens=8)   # aux_batch_size: set from ratio by the pipeline


@pytest.mark.parametrize("arch", ARCHS)
def test_mistake_analysis_leaves_the_callers_model_alone(arch, tmp_path):
    tok, build = _setup(arch)
    model = build(); before = _state(model)
    trained = mistake_analysis(model, tok, RED, SFT, MistakesConfig(**{**MA, "safe_responses": True}), progress=False,
                               data_dir=tmp_path / "data")
    assert _same(_state(model), before), "mistake_analysis changed the caller's model"
    assert not isinstance(trained, PeftModel) and not _same(_state(trained), before)
    assert {p.name for p in (tmp_path / "data").iterdir()} >= {"analyses.jsonl", "safe_responses.jsonl", "corpus.jsonl"}


@pytest.mark.parametrize("arch", ARCHS)
def test_mistake_analysis_resumes_to_the_uninterrupted_weights(arch, tmp_path, monkeypatch):
    tok, build = _setup(arch)
    run = _with_callbacks(monkeypatch, lambda cfg: mistake_analysis(build(), tok, RED, SFT, cfg, progress=False))
    _resumes(run, lambda **kw: MistakesConfig(**{**MA, "max_steps": 6, **kw}), tmp_path)


@pytest.mark.parametrize("arch", ARCHS)
def test_mistake_analysis_unmerged_adapter_saves_and_loads(arch, tmp_path):
    tok, build = _setup(arch)
    trained = mistake_analysis(build(), tok, RED, SFT, MistakesConfig(**MA, merge_adapter=False), progress=False)
    assert isinstance(trained, PeftModel)
    out = save_model(trained, tok, tmp_path / "out", merge=False)
    back = PeftModel.from_pretrained(build(), out)
    torch.testing.assert_close(_logits(back, tok), _logits(trained, tok), rtol=0, atol=1e-5)


# ---------------------------------------------------------------- ACD
from safetune.acd import ACDConfig, OppositePrompts, acd_fit, acd_generate
from safetune.evaluate import CallableJudge


def test_acd_fit_returns_prompts_and_leaves_the_model_alone():
    tok, build = _setup("llama")
    model = build(); before = _state(model)
    labels = iter(["refusal", "compliance"] * 100)                 # a judge that gives every partition some answers
    judge = CallableJudge(lambda r: True, "alternating", label_fn=lambda r: next(labels))
    safe, unsafe = [Record(f"Repeat {w}.") for w in WORDS[:3]], [Record(f"Hurt {w}.") for w in WORDS[:3]]
    p = acd_fit(model, tok, safe, unsafe, ACDConfig(num_train_epochs=1, logging_steps=1), "Be safe.", "Be bad.", judge=judge,
                max_new_tokens=4, progress=False)
    assert isinstance(p, OppositePrompts) and _same(_state(model), before)
    d = model.config.hidden_size
    assert p.safe.shape == (len(tok("Be safe.", add_special_tokens=False)["input_ids"]), d) and p.adversarial.shape[1] == d
    gens = acd_generate(model, tok, safe[:2], p.safe, p.adversarial, 0.5, max_new_tokens=4, progress=False)
    assert len(gens) == 2


def test_acd_config_keeps_the_old_names():
    with pytest.warns(FutureWarning, match="deprecated"): c = ACDConfig(lr=3e-3, epochs=2, batch_size=8)
    assert (c.learning_rate, c.num_train_epochs, c.per_device_train_batch_size) == (3e-3, 2, 8)
    c = ACDConfig()
    assert (c.learning_rate, c.num_train_epochs, c.per_device_train_batch_size, c.lr_scheduler_type, c.logging_steps) == (1e-3, 5, 50, "constant", 5)
    with pytest.raises(ValueError, match="--learning-rate/--lr must be > 0"): ACDConfig(learning_rate=0)
