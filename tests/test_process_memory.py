"""One memory budget per process (convscope/engine/process_memory.py): the exploration cache gets what
CONVSCOPE_MEMORY_BUDGET (or the default) leaves beside the resident set (TensorFlow, the
model's weights and traces) and one job's working set; the engine thread applies it when it
opens a model, so the window obeys the same variable as the command line."""
import numpy as np
import pytest

from convscope.engine.explore import cache as explore
from convscope.engine import jobs as J
from convscope.engine.process_memory import job_bytes, resident_bytes, weights_bytes
from test_bridge import small_model_file, wait_until  # noqa: F401 (fixtures)

MiB = 1 << 20


@pytest.fixture
def cap_restored():
    budget = explore.STORE.budget
    yield
    explore.configure(budget=budget)


def test_weights_bytes_counts_every_variable(demo_model):
    expected = sum(int(np.prod(v.shape)) * 4 for v in demo_model.keras_model.weights)
    assert weights_bytes(demo_model) == expected > 0


def test_cache_gets_what_the_budget_leaves(demo_model, monkeypatch, cap_restored):
    explore.configure(budget=8 << 30)  # the cache's own setting: not the limit here
    left = 96 * MiB
    monkeypatch.setenv("CONVSCOPE_MEMORY_BUDGET", str(resident_bytes() + job_bytes(demo_model) + left))
    got = explore.fit_budget(demo_model)
    assert abs(got - left) < 48 * MiB  # the resident set moves a little between the two reads
    # a budget the process already uses up: no cache, and the plan says why
    monkeypatch.setenv("CONVSCOPE_MEMORY_BUDGET", str(resident_bytes() // 2))
    assert explore.fit_budget(demo_model) == 0
    p = explore.plan(demo_model)
    assert not p.all_layers and "memory budget" in p.note
    # plenty left: the cache's own setting is the limit
    monkeypatch.setenv("CONVSCOPE_MEMORY_BUDGET", "64G")
    explore.configure(budget=200 * MiB)
    assert explore.fit_budget(demo_model) == 200 * MiB


def test_engine_thread_applies_the_budget_when_it_opens_a_model(qtbot, monkeypatch,
                                                                small_model_file, cap_restored):
    from convscope.engine.qt_bridge import EngineBridge

    monkeypatch.setenv("CONVSCOPE_MEMORY_BUDGET", "64M")  # below what the process holds
    explore.configure(budget=1 << 30)
    b = EngineBridge()
    results = []
    b.sigResult.connect(results.append)
    b.start()
    try:
        b.submit(J.LoadModel(spec=small_model_file))
        wait_until(lambda: any(isinstance(r, (J.ModelLoaded, J.JobFailed)) for r in results), 60)
        loaded = [r for r in results if isinstance(r, J.ModelLoaded)]
        assert loaded and explore.STORE.budget == 0
        assert "memory budget" in loaded[0].explore_note
    finally:
        assert b.stop(30000)


def test_compiled_forward_passes_are_a_small_lru(demo_model):
    """A walk through the layers on the per-layer path traces one pass per layer; a model
    keeps only the last few (each trace of a big model holds tens of MB)."""
    from convscope.engine.model import FORWARD_FNS_KEPT

    x = demo_model.prepare(np.zeros((64, 64, 3), np.uint8))
    paths = [i.path for i in demo_model.layers if i.spatial and i.class_name != "InputLayer"]
    assert len(paths) > FORWARD_FNS_KEPT
    for path in paths:
        _, rec = demo_model.forward(x, record=[path])
        assert rec[path].shape[1:] == demo_model.layer(path).output_shape
    assert len(demo_model._forward_fns) == FORWARD_FNS_KEPT
    assert ((paths[-1],), False) in demo_model._forward_fns
