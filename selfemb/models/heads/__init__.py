from .and_head import ANDHead
from .instance_spread_head import InstanceSpreadHead
from .npid_head import NPIDHead

__all__ = ['ANDHead', 'InstanceSpreadHead', 'NPIDHead']
