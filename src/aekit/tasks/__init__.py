"""Jobs built from the estimators."""

from aekit.tasks.demo import DemoResult, run_demo

__all__ = ["DemoResult", "run_demo"]
