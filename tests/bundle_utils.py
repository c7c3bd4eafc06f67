"""Run bundle configs the way MONAI does (ConfigWorkflow), for the bundle tests."""

from __future__ import annotations

from pathlib import Path

from monai.bundle import ConfigWorkflow

REPO = Path(__file__).resolve().parents[1]
BUNDLES = REPO / "bundles"
SCHEMA = BUNDLES / "schema" / "meta_schema.json"


def run_workflow(bundle: str, configs: list[str], workflow_type: str, **overrides) -> ConfigWorkflow:
    """initialize -> check_properties -> run -> finalize, as ``python -m monai.bundle run`` does."""
    root = BUNDLES / bundle
    workflow = ConfigWorkflow(
        config_file=[str(root / "configs" / c) for c in configs],
        meta_file=str(root / "configs" / "metadata.json"),
        logging_file=str(root / "configs" / "logging.conf"),
        workflow_type=workflow_type,
        bundle_root=str(root),
        **overrides,
    )
    workflow.initialize()
    missing = workflow.check_properties()
    assert not missing, f"{bundle} {configs}: missing required properties {missing}"
    workflow.run()
    workflow.finalize()
    return workflow


def error_chain(error: BaseException) -> str:
    """All messages of an exception and its causes (MONAI wraps config errors in RuntimeError)."""
    messages = []
    while error is not None:
        messages.append(f"{type(error).__name__}: {error}")
        error = error.__cause__ or error.__context__
    return "\n".join(messages)


def verified_metadata(bundle: str) -> dict:
    """Run MONAI's metadata checks on a bundle and return its metadata.

    ``verify_metadata`` against the offline schema, the version present in the
    changelog, and ``verify_net_in_out`` for ``train.json`` and ``inference.json``.
    """
    import json

    from monai.bundle import verify_metadata, verify_net_in_out

    meta_file = BUNDLES / bundle / "configs" / "metadata.json"
    verify_metadata(meta_file=str(meta_file), filepath=str(SCHEMA))
    meta = json.loads(meta_file.read_text())
    assert meta["version"] in meta["changelog"], f"{bundle}: version {meta['version']} not in changelog"
    for config in ("train.json", "inference.json"):
        verify_net_in_out(
            net_id="network_def",
            meta_file=str(meta_file),
            config_file=str(BUNDLES / bundle / "configs" / config),
            device="cpu",
        )
    return meta


def run_dirs(base: Path, name: str = "") -> dict[str, str]:
    """Overrides that keep one run's data, checkpoint and reports under ``base`` (data shared by runs)."""
    run = base / name if name else base
    return {"dataset_dir": str(base / "data"), "ckpt_dir": str(run / "models"), "output_dir": str(run / "eval")}


def explain(bundle: str, base: Path, saliency: dict | None = None, **overrides) -> Path:
    """Train, then run ``saliency.json`` merged on ``train.json`` (``saliency``: overrides of that run only,
    e.g. ``saliency#...`` keys); returns ``output_dir/saliency``."""
    run_workflow(bundle, ["train.json"], "train", **run_dirs(base), **overrides)
    run_workflow(bundle, ["train.json", "saliency.json"], "train", **run_dirs(base), **overrides, **(saliency or {}))
    return base / "eval" / "saliency"
