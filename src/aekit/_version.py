"""The version of aekit, in a module of its own: the library's modules that record it (a saved
model, an index, an ONNX export) read it from here, not from the package's facade, which
names the public classes of every layer (see the layers in pyproject.toml)."""

__version__ = "0.1.0"
