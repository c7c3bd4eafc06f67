"""Applications on top of the library: data-set recipes, command-line commands, real-data drivers.

Like MONAI's ``monai.apps``: these modules may import anything in omicsfusion and
nothing imports them (``python -m omicsfusion`` dispatches to the commands by name).
``lgg`` prepares TCGA-LGG for the neuro bundle (``python -m omicsfusion.apps.lgg``),
``spatial_recipes`` the real spatial data sets, ``bundle_runs`` scores real-data bundle
runs beside tabular baselines (``spatial_summary`` and ``pan_cancer_summary`` add a linear probe on
``probe_features``); ``layout_cli`` and ``benchmark_cli`` are the
``layout`` and ``benchmark`` commands.
"""
