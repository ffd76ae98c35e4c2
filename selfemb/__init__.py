"""selfemb: unsupervised embedding and self-supervised representation learning."""
from .version import __version__

__all__ = ['__version__']
