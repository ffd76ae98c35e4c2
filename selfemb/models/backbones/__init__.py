"""Backbones mmpretrain lacks."""
from .alexnet_bn import AlexNetBN
from .sobel_resnet import SobelResNet

__all__ = ['AlexNetBN', 'SobelResNet']
