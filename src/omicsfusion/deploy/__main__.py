"""``python -m omicsfusion.deploy -i <input> -o <output> -m <model.ts>`` (MONAI Deploy's app arguments)."""

from omicsfusion.deploy.app import FusedClassificationApp

if __name__ == "__main__":
    FusedClassificationApp().run()
