"The organism drivers of `safetune.recipes` train each set-up at its own recipe (captured, nothing is trained)."
import pytest

from safetune import recipes
from safetune.organism import load_organism
from safetune.recipes import FLAG_SETUPS, ORGANISM_FLAG_BASELINE, ORGANISM_RECIPES, organism_flag_run


class Captured(Exception): "Raised by the stand-in for `organism_train_config`, once it has recorded its arguments."


@pytest.fixture
def flag_settings(monkeypatch):
    "Calls `organism_flag_run` and returns the (steps, learning rate) it asked `organism_train_config` for."
    org = load_organism(progress=False)
    def capture(steps, seed, **kw): raise Captured((steps, kw["learning_rate"]))
    monkeypatch.setattr(recipes, "organism_train_config", capture)
    def settings(setup, **kw):
        with pytest.raises(Captured) as e: organism_flag_run(org, setup, **kw)
        return e.value.args[0]
    return settings


def test_each_flag_setup_trains_at_its_own_recipe(flag_settings):
    flag, baseline = ORGANISM_RECIPES["red-flag"], ORGANISM_FLAG_BASELINE
    assert (flag["max_steps"], flag["learning_rate"]) != (baseline["max_steps"], baseline["learning_rate"])  # else no test
    for setup in FLAG_SETUPS:
        own = baseline if setup == "refusal SFT" else flag      # the red flag's two ablations train at the red flag's
        assert flag_settings(setup) == (own["max_steps"], own["learning_rate"]), setup


def test_explicit_settings_win_even_when_zero(flag_settings):
    assert flag_settings("red flag", steps=0, lr=0.0) == (0, 0.0)
    assert flag_settings("refusal SFT", steps=7, lr=2e-5) == (7, 2e-5)
