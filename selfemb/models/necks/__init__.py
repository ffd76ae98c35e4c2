from .linear_neck import LinearNeck
from .nonlinear_neck import NonLinearNeck
from .two_branch_neck import NormedLinear, TwoBranchNeck

__all__ = ['LinearNeck', 'NonLinearNeck', 'NormedLinear', 'TwoBranchNeck']
