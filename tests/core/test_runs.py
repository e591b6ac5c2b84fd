import random

import numpy as np
import pytest
import torch

from hiergym.error import ConfigError
from hiergym.runs import CsvLog, RunDir, capture_rng, restore_rng


def test_csv_log_grows_columns_reloads_and_truncates(tmp_path):
    log = CsvLog(tmp_path / "m.csv")
    log.append({"iteration": 0, "success": 0.5})
    log.append({"iteration": 1, "success": 0.75, "eval_success": 0.25})
    log.append({"iteration": 2, "success": 1.0})
    again = CsvLog(tmp_path / "m.csv")
    assert again.rows == log.rows
    again.truncate(2)
    assert [r["iteration"] for r in CsvLog(tmp_path / "m.csv").rows] == [0, 1]


def test_run_dir_refuses_to_overwrite_and_to_resume_nothing(tmp_path):
    RunDir(tmp_path / "run", {"a": 1}, tensorboard=False)
    with pytest.raises(ConfigError) as e:
        RunDir(tmp_path / "run", {"a": 1}, tensorboard=False)
    assert e.value.field == "out"
    with pytest.raises(ConfigError) as e:
        RunDir(tmp_path / "other", {"a": 1}, resume=True, tensorboard=False)
    assert e.value.field == "resume"


def test_checkpoints_keep_the_newest_and_restore_rng(tmp_path):
    run = RunDir(tmp_path / "run", {"a": 1}, tensorboard=False)
    torch.manual_seed(3)
    for step in (1, 2, 3):
        run.save_checkpoint(step, {"weights": torch.full((2,), float(step))})
    assert sorted(p.name for p in run.ckpt_dir.iterdir()) == ["step-000002.pt", "step-000002.pt.sha256", "step-000003.pt", "step-000003.pt.sha256"]
    state = run.latest_checkpoint()
    assert state["step"] == 3 and state["weights"].tolist() == [3.0, 3.0]
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    restore_rng(state["rng"])
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected


def test_log_writes_csv_tensorboard_and_plot(tmp_path):
    run = RunDir(tmp_path / "run", {"a": 1})
    for it in range(3):
        run.log(it, {"success": it / 2, "return": float(it)}, {"env_steps_per_s": 10.0})
    run.log(3, {"eval_success": 0.5})
    png = run.plot()
    run.close()
    assert png.stat().st_size > 1000 and png.read_bytes()[:4] == b"\x89PNG"
    assert list((tmp_path / "run" / "tb").iterdir())
    assert (tmp_path / "run" / "throughput.csv").read_text().splitlines()[0] == "iteration,env_steps_per_s"


def test_curve_marks_baselines_and_spans_success_rates():
    import matplotlib.pyplot as plt

    from hiergym.runs import curve_figure

    rows = [{"iteration": 0, "eval_success": 0.75, "return": 3.0}, {"iteration": 10, "eval_success": 0.8, "return": 4.0}]
    fig = curve_figure(rows, ("eval_success", "return"), {"eval_success": {"before warm start": 0.0}})
    success, ret = fig.axes
    assert success.get_ylim() == (-0.02, 1.02) and ret.get_ylim() != (-0.02, 1.02)
    dashed = [line for line in success.get_lines() if line.get_linestyle() == "--"]
    assert len(dashed) == 1 and list(dashed[0].get_ydata()) == [0.0, 0.0]
    assert [t.get_text() for t in success.get_legend().get_texts()] == ["before warm start: 0.00"]
    assert not [line for line in ret.get_lines() if line.get_linestyle() == "--"]
    plt.close(fig)


def test_capture_rng_has_all_generators():
    assert {"python", "numpy", "torch"} <= set(capture_rng())


def test_learning_curve_reads_at_a_glance():
    """Named panels with y-axis labels and a figure title (task, algorithm), not raw metric keys (issue 16.14)."""
    from hiergym.runs import curve_figure

    rows = [{"iteration": 0, "success": 0.5, "eval_success": 0.7, "return": 1.0}, {"iteration": 1, "success": 0.6, "return": 2.0}]
    fig = curve_figure(rows, baselines={"eval_success": {"before warm start": 0.0}}, title="Sokoban: GIGPO, tiny LM")
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["training batches: success", "held-out: success", "training batches: return"]
    assert all(ax.get_ylabel() for ax in fig.axes)
    assert fig._suptitle is not None and fig._suptitle.get_text() == "Sokoban: GIGPO, tiny LM"
