from .and_head import ANDHead
from .cld_head import CLDHead
from .instance_spread_head import InstanceSpreadHead
from .npid_head import NPIDHead

__all__ = ['ANDHead', 'CLDHead', 'InstanceSpreadHead', 'NPIDHead']
