from .and_head import ANDHead
from .cld_head import CLDHead
from .instance_spread_head import InstanceSpreadHead
from .margin_nce_head import MarginNCEHead
from .npid_head import NPIDHead
from .uic_head import UICHead

__all__ = ['ANDHead', 'InstanceSpreadHead', 'NPIDHead', 'MarginNCEHead', 'UICHead', 'CLDHead']
