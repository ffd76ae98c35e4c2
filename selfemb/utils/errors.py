"""Errors shared by the data sources and the models that decode their samples."""


class SampleLoadError(RuntimeError):
    """A sample that could not be loaded, transformed or decoded; names the file (and, from a
    data source, the dataset and index)."""
