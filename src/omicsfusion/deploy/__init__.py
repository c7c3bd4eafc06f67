"""A MONAI Deploy application for the fused classification bundles (``pip install omicsfusion[deploy]``).

``python -m omicsfusion.deploy -i <input> -o <output> -m <model.ts>`` classifies every image
of the input folder together with its omics row; see :mod:`omicsfusion.deploy.app`.
"""
