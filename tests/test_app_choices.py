"""Issue 18, words for newcomers and only what works here: the page offers the models that run here (the others apart,
with what makes them available), the verifiers that can score the chosen model, API defaults that follow the chosen
model, one plain sentence per algorithm, readable option labels, NFEs explained at the budget with each algorithm's
least budget, the model options' real defaults, draft-then-commit in the form, and no file or module names."""

from __future__ import annotations

import json
import re

import gradio as gr
import pytest
from served import ARGS, CHROMIUM, served

from tsearch.app import budget as nfes
from tsearch.app import catalog, choices, handlers, runs_root
from tsearch.app.state import Session
from tsearch.models import MODELS
from tsearch.registry import Entry
from tsearch.search import ALGORITHMS, option_settings
from tsearch.verifiers import VERIFIERS

FORBIDDEN = (".md", "PEERS", "tsearch.", "--model")   # file, module and command-line names a visitor never needs


@pytest.fixture(autouse=True)
def runs_in_tmp(tmp_path, monkeypatch, one_thread):
    monkeypatch.setenv("TSEARCH_APP_RUNS", str(tmp_path / "runs"))
    runs_root._last_cleanup.clear()


@pytest.fixture(scope="module")
def demo():
    from tsearch.app import build_demo

    return build_demo(model="shapes")


def _texts(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for item in value for t in _texts(item)]
    return []


def page_text(demo) -> str:
    """Everything the page shows in words: markdown, labels, help, choices, placeholders."""
    shown = []
    for component in demo.get_config_file()["components"]:
        props = component["props"]
        for key in ("value", "label", "info", "choices", "placeholder", "examples"):
            if props.get("visible", True) is not False or key != "value":
                shown += _texts(props.get(key))
    return "\n".join(shown)


def test_the_page_names_no_file_module_or_command_line_flag(demo):
    text = page_text(demo)
    assert "Other models" in text and "TSEARCH_APP_MODELS" in text   # the text was read
    for name in FORBIDDEN:
        assert name not in text, f"{name!r} is on the page: ...{text[max(0, text.find(name) - 80):][:160]}..."


def test_every_algorithm_has_one_plain_sentence_and_readable_option_labels(demo):
    text = page_text(demo)
    for name in ALGORITHMS:
        brief = catalog.algorithm_brief(name)
        assert brief.endswith(".") and brief.count(". ") == 0 and len(brief) < 160, brief
        assert getattr(ALGORITHMS[name], "in_brief", ""), f"{name} has no in_brief sentence"
        assert f"How {name} works" in text
        for s in option_settings(name).values():
            assert s.label and "_" not in s.label, f"{name}.{s.name} has no readable label"
            if len(s.name) <= 3:   # a symbol (lam, n, L, ess, eta): words first, the symbol after them
                assert re.fullmatch(r"[a-z][a-z ,-]+ \(.+\)", s.label), f"{name}.{s.name}: {s.label!r}"
            assert s.title[:1].upper() + s.title[1:] in text
    assert "Neighbour similarity (λ)" in text and "Random search" not in catalog.algorithm_brief("random")
    assert "PEERS" not in catalog.algorithm_doc("evolution") and "crossover" in catalog.algorithm_doc("evolution")


def test_only_models_that_run_here_are_offered_and_the_others_say_what_makes_them_available(monkeypatch):
    offered = [name for _, name in catalog.model_choices()]
    assert set(offered) >= {"gmm", "shapes", "digits"}
    assert all(catalog.runs_here(name) for name in offered)
    assert not any(MODELS[name].kind == "diffusers" for name in offered if name in MODELS)
    others = {name for name, _, _ in catalog.other_models()}
    assert others and others.isdisjoint(offered) and others | set(offered) == set(catalog.known_models())
    note = catalog.other_models_note()
    assert "Visitors:** nothing to do" in note and "TSEARCH_APP_MODELS" in note
    # a hub model that loads here is offered once the host lists it, and only then
    monkeypatch.setitem(MODELS, "unlisted-hub-model", Entry("tsearch.models.gmm:build", "stands in for a hub model",
                                                   kind="diffusers"))
    assert "unlisted-hub-model" not in [name for _, name in catalog.model_choices()]
    assert ("unlisted-hub-model", "stands in for a hub model",
            "not listed in TSEARCH_APP_MODELS") in catalog.other_models()
    monkeypatch.setenv("TSEARCH_APP_MODELS", "unlisted-hub-model")
    assert ("unlisted-hub-model", "unlisted-hub-model") in catalog.model_choices()


def test_verifiers_and_evaluators_are_filtered_by_the_model(monkeypatch):
    assert catalog.verifiers_for("shapes") == ["shapes-clip", "shapes-quality", "shapes-oracle", "shapes-parts",
                                               "shapes-oracle-noisy", "shapes-oracle-e0.1", "shapes-oracle-e0.2",
                                               "shapes-oracle-e0.3"]
    assert catalog.verifiers_for("shapes-distilled") == catalog.verifiers_for("shapes")
    assert catalog.verifiers_for("gmm") == ["gmm-density"]
    assert catalog.verifiers_for("digits") == ["digits-classifier"]
    # general verifiers: a prompt-reading or prompt-blind one fits the text world; a class one and the class
    # worlds take none of them (their classes are not ImageNet's)
    monkeypatch.setitem(VERIFIERS, "any-text", Entry("tsearch.verifiers.gmm_density:build", "t", kind="real",
                                                     condition="text"))
    monkeypatch.setitem(VERIFIERS, "any-class", Entry("tsearch.verifiers.gmm_density:build", "c", kind="real",
                                                      condition="class"))
    assert catalog.verifiers_for("shapes")[-1] == "any-text" and "any-class" not in catalog.verifiers_for("shapes")
    assert catalog.verifiers_for("digits") == ["digits-classifier"] and catalog.verifiers_for("gmm") == ["gmm-density"]


def test_changing_the_model_updates_the_verifier_and_evaluator_choices():
    from tsearch.app.choices import model_controls

    _, _, _, _, verifiers, evaluator, *_ = model_controls("digits", 300, False)
    assert verifiers["choices"] == ["digits-classifier"] and verifiers["value"] == ["digits-classifier"]
    assert evaluator["choices"] == [("none", ""), ("digits-classifier", "digits-classifier")]
    assert evaluator["value"] == ""
    _, _, _, _, verifiers, evaluator, *_ = model_controls("shapes", 300, False)
    assert verifiers["value"] == ["shapes-clip"] and evaluator["value"] == "shapes-oracle"
    assert ("gmm-density", "gmm-density") not in evaluator["choices"]


def _stored(update) -> dict:
    return json.loads(open(f"{update[-1]['run_dir']}/run.json").read())["config"]


def test_a_handler_call_that_names_only_the_model_gets_its_preset():
    *_, done = handlers.search(model="gmm", budget=40, steps=4, session=Session())
    assert done[0].startswith("Done")
    config = _stored(done)
    assert config["verifiers"] == ["gmm-density"] and config["evaluators"] == [] and config["condition"] == 1
    assert config["algorithm"] == catalog.DEFAULT_ALGORITHM
    *_, done = handlers.search(model="digits", budget=40, steps=2, evaluator="", session=Session())
    assert _stored(done)["verifiers"] == ["digits-classifier"] and _stored(done)["condition"] == 3
    with pytest.raises(gr.Error, match="choose at least one verifier"):
        list(handlers.search(model="gmm", verifiers=[], budget=40, steps=4, session=Session()))


@pytest.fixture(scope="module")
def shapes_url(demo):
    with served(demo) as url:
        yield url


def test_an_api_call_for_gmm_on_a_page_opened_on_shapes_uses_gmms_preset(shapes_url):
    gradio_client = pytest.importorskip("gradio_client")
    client = gradio_client.Client(shapes_url, verbose=False, download_files=False)
    done = client.predict(model="gmm", budget=40, steps=4, api_name="/search")
    assert done[0].startswith("Done"), done[0]
    assert done[5]["condition"] == 1
    config = json.loads(open(f"{done[5]['run_dir']}/run.json").read())["config"]
    assert config["verifiers"] == ["gmm-density"] and config["evaluators"] == []
    done = client.predict(model="shapes", budget=40, steps=2, api_name="/search")
    config = json.loads(open(f"{done[5]['run_dir']}/run.json").read())["config"]
    assert config["verifiers"] == ["shapes-clip"] and config["evaluators"] == ["shapes-oracle"]
    assert config["condition"] == catalog.preset("shapes").prompt


def test_nfes_are_explained_where_they_are_counted():
    guided = nfes.Facts(nfe_per_eval=2, solver="dpmpp-2m", default_steps=10)
    assert nfes.cost_text(guided, 10, 800) == \
        "10 steps × 2 passes for guidance = **20 NFEs per candidate** → 800 NFEs = 40 full candidates"
    assert "19 denoiser calls with the heun solver" in nfes.cost_text(nfes.Facts(1, "heun", 10), 10, 100)
    assert nfes.least_budget("random", guided, 10) == 20
    assert nfes.least_budget("paths", guided, 10) == 2832   # the figure: paths needs thousands
    assert nfes.least_budget("paths", guided, 10, {"n": 1, "m": 1}) < 2832
    for name in ALGORITHMS:
        least = nfes.least_budget(name, guided, 10)
        assert least is not None and least >= 20
        with pytest.raises(ValueError):
            from tsearch.search import make_algorithm

            make_algorithm(name, least - 1, guided.costs, 10, 0)


def test_the_notes_follow_the_algorithm_the_steps_and_the_typed_budget():
    keys = [f.key for f in catalog.all_option_fields()]
    defaults = [f.default for f in catalog.all_option_fields()]
    algorithm_note, budget_note = choices.notes("shapes", "paths", 800, 10, keys, defaults)
    assert "Denoise a few noises part way" in algorithm_note and "at least **2,832 NFEs** at 10 steps" in algorithm_note
    assert "20 NFEs per candidate" in budget_note and "below the least this search takes, 2,832" in budget_note
    _, note = choices.notes("shapes", "random", 1_000_000, 10, keys, defaults)
    assert "1,000,000 NFEs is above the most a Run spends here, 20,000" in note
    _, note = choices.notes("shapes", "random", 5, 10, keys, defaults)
    assert "5 NFEs is below one candidate's cost, 20" in note   # the budget's least is one candidate
    _, note = choices.notes("shapes", "random", 800, 2.5, keys, defaults)
    assert "Steps: 2.5 is not a whole number of at least 1" in note
    assert choices.notes("shapes", "random", 800, 0, keys, defaults)[1].startswith("10 steps")   # 0: the default
    with pytest.raises(gr.Error, match="budget: a Run spends at most 20,000 NFEs here; got 1,000,000"):
        list(handlers.search(model="gmm", budget=1_000_000, session=Session()))
    bad = [1.5 if key == "zero_order_lam" else value for key, value in zip(keys, defaults)]
    algorithm_note, note = choices.notes("shapes", "zero-order", 800, None, keys, bad)
    assert "Options: option lam of 'zero-order' must be a number > 0 and < 1, got 1.5" in note
    _, note = choices.notes("gmm", "random", 300, None, keys, defaults)
    assert note.startswith("10 steps × 1 pass (no guidance) = **10 NFEs per candidate** → 300 NFEs = 30")


def test_model_options_show_the_models_real_default_and_a_search_at_it_builds_no_second_model(monkeypatch):
    box, height, width, guidance, negative, length = choices.model_option_updates("shapes")
    assert box["visible"] and guidance["visible"] and guidance["value"] == 3.0   # the model's own, never 0
    assert not height["visible"] and height["value"] is None
    opening = choices.opening("shapes")
    assert opening[0]["value"] == catalog.preset("shapes").prompt and opening[4]["value"] == 10
    from tsearch.app.pool import ModelPool

    gets = []
    real = ModelPool.get   # patched on the class: an instance attribute would outlive the test
    monkeypatch.setattr(ModelPool, "get", lambda self, name, options=None: gets.append(options) or
                        real(self, name, options))
    *_, done = handlers.search(model="shapes", budget=20, steps=2, guidance=3.0, session=Session())
    assert _stored(done)["model_options"] == {} and not any(gets)
    *_, done = handlers.search(model="shapes", budget=20, steps=2, guidance=1.0, session=Session())
    assert _stored(done)["model_options"] == {"guidance": 1.0}


def test_draft_then_commit_is_in_the_form_and_reaches_the_search(demo):
    by_label = {getattr(block, "label", None): block for block in demo.blocks.values()}
    top = by_label["Drafts committed"]
    assert top.value == 1 and "draft-then-commit" in top.info and "Final render steps" in by_label
    *_, done = handlers.search(model="gmm", budget=80, steps=4, final_steps=8, final_top=2, session=Session())
    config = _stored(done)
    assert (config["final_steps"], config["final_top"]) == (8, 2)
    with pytest.raises(gr.Error, match="give final_steps too"):
        list(handlers.search(model="gmm", budget=80, steps=4, final_top=2, session=Session()))


def test_every_score_says_which_way_is_better_and_digits_says_what_its_number_is():
    note = catalog.score_note(["digits-classifier"], "")
    assert "logit of the target digit" in note and "not a probability" in note and "higher is better" in note
    note = catalog.score_note(["shapes-clip", "shapes-quality"], "shapes-oracle")
    assert note.count("higher is better") == 3 and "mean rank" in note and "(held-out)" in note
    assert re.search(r"shapes-oracle\*\* \(held-out\)", note)




def test_in_a_browser_the_choices_follow_the_model_and_the_budget_is_checked_where_it_is_typed(shapes_url):
    import os

    sync_api = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(shapes_url)
            page.wait_for_selector("#chart .main-svg", timeout=60_000)
            page.wait_for_function("(document.querySelector('#budget-note')?.innerText || '')"
                                   ".includes('NFEs per candidate')", timeout=30_000)
            for accordion in page.locator("button.label-wrap").all():   # every accordion open: all text shown
                accordion.click()
            page.get_by_text("TSEARCH_APP_MODELS environment variable").first.wait_for(timeout=10_000)
            text = page.inner_text("body")
            assert "Other models" in text and "TSEARCH_APP_MODELS" in text
            for name in FORBIDDEN:
                assert name not in text, f"{name!r} is on the page"
            assert "10 steps × 2 passes for guidance = 20 NFEs per candidate → 800 NFEs = 40 full candidates" in \
                page.inner_text("#budget-note")
            score = page.inner_text("#score-note")
            assert "shapes-clip" in score and "higher is better" in score
            guidance = page.locator("input[type=number][aria-label*='Guidance']")
            assert guidance.input_value() == "3"   # the model's real default, not 0
            page.get_by_label("paths", exact=True).check()
            page.wait_for_function("(document.querySelector('#algorithm-note')?.innerText || '').includes('2,832')")
            assert "below the least this search takes, 2,832" in page.inner_text("#budget-note")
            budget = page.locator("input[type=number][aria-label*='Budget']")
            budget.fill("1000000")
            budget.press("Tab")
            page.wait_for_function("(document.querySelector('#budget-note')?.innerText || '').includes('above the')")
            assert budget.input_value() == "1000000"   # refused where typed, never moved into range
            # another model: its verifiers only, and its class picker
            page.locator("#run-bar input").first.click()
            page.get_by_role("option", name="digits", exact=True).click()
            page.wait_for_function("(document.querySelector('#score-note')?.innerText || '')"
                                   ".includes('digits-classifier')", timeout=30_000)
            page.get_by_label("Verifiers").click()
            offered = [o.inner_text().replace("✓", "").strip() for o in page.get_by_role("option").all()]
            assert offered == ["digits-classifier"], offered
        finally:
            browser.close()
