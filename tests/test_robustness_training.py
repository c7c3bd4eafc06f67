"""Training that survives a crash, checkpoints that are never half-written, and seeded runs that repeat exactly."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from bundle_utils import BUNDLES, REPO, run_dirs, run_workflow
from ignite.engine import Engine, Events
from torch import nn

from omicsfusion.checkpoint import AtomicCheckpointSaver, CheckpointError, ResumeLoader, latest_checkpoint
from omicsfusion.preprocessing import OmicsPreprocessor

BUNDLE = "pan_cancer_classification"


def _engine(epoch_length: int = 2) -> tuple[Engine, list[int]]:
    return Engine(lambda engine, batch: None), list(range(epoch_length))


def _saver(folder, network) -> AtomicCheckpointSaver:
    return AtomicCheckpointSaver(
        str(folder),
        {"model": network},
        engine_key="trainer",
        save_interval=1,
        n_saved=1,
        save_final=True,
        final_filename="checkpoint_final.pt",
    )


def test_saver_keeps_the_latest_complete_checkpoint_and_resume_restores_the_epoch(tmp_path):
    network = nn.Linear(3, 2)
    engine, data = _engine()
    seen = []
    _saver(tmp_path, network).attach(engine)
    engine.add_event_handler(Events.EPOCH_COMPLETED, lambda e: seen.append(sorted(p.name for p in tmp_path.iterdir())))
    engine.run(data, max_epochs=3)
    assert seen == [["checkpoint_epoch=1.pt"], ["checkpoint_epoch=2.pt"], ["checkpoint_epoch=3.pt"]]
    assert latest_checkpoint(tmp_path) == str(tmp_path / "checkpoint_final.pt")

    (tmp_path / "checkpoint_final.pt").unlink()
    resumed, data = _engine()
    ResumeLoader(latest_checkpoint(tmp_path), {"model": nn.Linear(3, 2)}).attach(resumed)
    epochs = []
    resumed.add_event_handler(Events.EPOCH_STARTED, lambda e: epochs.append(e.state.epoch))
    resumed.run(data, max_epochs=5)
    assert epochs == [4, 5]


def test_a_crash_while_saving_leaves_the_previous_checkpoint_whole(tmp_path, monkeypatch):
    network = nn.Linear(3, 2)
    engine, data = _engine()
    _saver(tmp_path, network).attach(engine)
    real_save = torch.save

    def dies_halfway(obj, path, **kwargs):
        if engine.state.epoch == 2:
            with open(path, "wb") as stream:
                stream.write(b"PK\x03\x04 half a checkpoint")
            raise KeyboardInterrupt("killed while saving")
        real_save(obj, path, **kwargs)

    monkeypatch.setattr(torch, "save", dies_halfway)
    with pytest.raises(KeyboardInterrupt):
        engine.run(data, max_epochs=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint_epoch=1.pt"]
    state = torch.load(tmp_path / "checkpoint_epoch=1.pt", weights_only=True)
    assert state["trainer"]["iteration"] == 2
    torch.testing.assert_close(state["model"]["weight"], network.state_dict()["weight"])


def test_resume_into_another_network_or_without_trainer_state_is_refused(tmp_path):
    engine, data = _engine()
    _saver(tmp_path, nn.Linear(3, 2)).attach(engine)
    engine.run(data, max_epochs=1)
    other, data = _engine()
    ResumeLoader(latest_checkpoint(tmp_path), {"model": nn.Linear(4, 2)}).attach(other)
    with pytest.raises(CheckpointError, match=r"(?s)checkpoint_final\.pt: .*size mismatch.*--resume false"):
        other.run(data, max_epochs=2)

    torch.save({"model": {}}, tmp_path / "checkpoint_epoch=7.pt")
    with pytest.raises(CheckpointError, match=r"checkpoint_epoch=7\.pt: holds no 'trainer' state"):
        latest_checkpoint(tmp_path)


def test_a_phantom_killed_while_written_leaves_dataset_dir_empty(tmp_path, monkeypatch):
    from omicsfusion import prepare

    def dies_halfway(root, n_per_class, seed):
        (root / "images").mkdir(parents=True)
        (root / "samples.csv").write_text("sample_id,image,label\n")
        raise KeyboardInterrupt("killed while writing the phantom")

    monkeypatch.setitem(prepare.PHANTOMS, "pan_cancer", dies_halfway)
    with pytest.raises(KeyboardInterrupt):
        prepare.ensure_dataset(tmp_path / "data", "pan_cancer", phantom_size=2)
    assert list(tmp_path.iterdir()) == []  # no half phantom, no temporary folder
    monkeypatch.undo()
    prepare.ensure_dataset(tmp_path / "data", "pan_cancer", phantom_size=2)
    assert (tmp_path / "data" / "samples.csv").is_file() and list(tmp_path.iterdir()) == [tmp_path / "data"]


def test_metrics_report_is_renamed_into_place_whole(tmp_path):
    from omicsfusion.handlers import AtomicMetricsSaver

    engine = Engine(lambda e, b: None)
    engine.add_event_handler(Events.EPOCH_COMPLETED, lambda e: e.state.metrics.update(val_accuracy=0.75))
    AtomicMetricsSaver(save_dir=str(tmp_path / "eval"), metrics=["val_accuracy"]).attach(engine)
    engine.run([0], max_epochs=1)
    assert [p.name for p in (tmp_path / "eval").iterdir()] == ["metrics.csv"]
    assert (tmp_path / "eval" / "metrics.csv").read_text().split() == ["val_accuracy,0.75"]


def _files_are_whole(models) -> None:
    """Every file under its final name loads completely (the hidden ``.tmp-*`` of a killed save are not)."""
    for path in models.iterdir():
        if path.name.startswith("."):
            continue
        if path.suffix == ".pt":
            torch.load(path, map_location="cpu", weights_only=True)
        elif path.name == "layout.npz":
            OmicsPreprocessor.load(path)
        elif path.suffix == ".json":
            json.loads(path.read_text())


@pytest.mark.slow
def test_training_killed_mid_epoch_resumes_and_finishes_the_same_epochs(tmp_path, tiny):
    root = BUNDLES / BUNDLE
    dirs = run_dirs(tmp_path)
    models = tmp_path / "models"
    cmd = [
        sys.executable,
        "-m",
        "monai.bundle",
        "run",
        "--bundle_root",
        str(root),
        "--config_file",
        str(root / "configs" / "train.json"),
    ]
    for key, value in {**dirs, **tiny(BUNDLE, max_epochs=3)}.items():
        cmd += [f"--{key}", str(value)]
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    log = tmp_path / "first.log"
    with log.open("w") as out:
        first = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO)
        deadline = time.monotonic() + 300
        while "Epoch: 2/3, Iter: 1/" not in log.read_text():  # the first step of epoch 2 is done
            assert first.poll() is None, f"training ended before epoch 2:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, "epoch 2 not reached after 300 s"
            time.sleep(0.02)
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert (models / "checkpoint_epoch=1.pt").exists() and not (models / "checkpoint_final.pt").exists()
    _files_are_whole(models)
    saved = latest_checkpoint(models)
    trainer = torch.load(saved, map_location="cpu", weights_only=True)["trainer"]
    done = trainer["iteration"] // trainer["epoch_length"]
    assert 1 <= done < 3

    second = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    output = second.stdout + second.stderr
    assert f"resumed from {saved}: epoch {done} of 3 done" in output
    assert sorted(set(re.findall(r"Epoch: (\d)/3", output))) == [str(e) for e in range(done + 1, 4)]
    final = torch.load(models / "checkpoint_final.pt", map_location="cpu", weights_only=True)["trainer"]
    assert final["iteration"] == 3 * trainer["epoch_length"]
    _files_are_whole(models)
    assert sorted(p.name for p in models.glob("*.pt")) == ["checkpoint_epoch=3.pt", "checkpoint_final.pt", "model.pt"]


def _first_epoch(tmp_path, name: str, overrides: dict) -> tuple[dict, list[float], dict]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    dirs = run_dirs(tmp_path / name)  # a phantom, split, layout and training of its own
    run_workflow(BUNDLE, ["train.json"], "train", **dirs, **overrides, seed=3)
    events = EventAccumulator(dirs["output_dir"])
    events.Reload()
    losses = [e.value for e in events.Scalars("train_loss")]
    with np.load(tmp_path / name / "models" / "layout.npz", allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files if not k.endswith(("fit_seconds", "checksum"))}
    return arrays, losses, json.loads((tmp_path / name / "models" / "datalist.json").read_text())


@pytest.mark.slow
def test_two_runs_with_one_seed_give_identical_layouts_and_first_epoch_losses(tmp_path, tiny):
    layout_a, losses_a, datalist_a = _first_epoch(tmp_path, "a", tiny(BUNDLE))
    layout_b, losses_b, datalist_b = _first_epoch(tmp_path, "b", tiny(BUNDLE))
    assert layout_a.keys() == layout_b.keys() and len(layout_a) > 10
    for key in layout_a:
        np.testing.assert_array_equal(layout_a[key], layout_b[key], err_msg=key)
    assert len(losses_a) == 2 and losses_a == losses_b
    assert datalist_a == datalist_b
