from .linear_neck import LinearNeck
from .nonlinear_neck import NonLinearNeck

__all__ = ['LinearNeck', 'NonLinearNeck']
