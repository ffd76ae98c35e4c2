"""Backbones mmpretrain lacks."""
from .sobel_resnet import SobelResNet

__all__ = ['SobelResNet']
