from .and_head import ANDHead
from .instance_spread_head import InstanceSpreadHead
from .npid_head import NPIDHead
from .uic_head import UICHead

__all__ = ['ANDHead', 'InstanceSpreadHead', 'NPIDHead', 'UICHead']
