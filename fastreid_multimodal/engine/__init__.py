from .defaults import default_argument_parser, default_setup, load_config, run_cli  # noqa: F401
from .trainer import MultimodalTrainer  # noqa: F401
from .hooks import WriteResults  # noqa: F401
