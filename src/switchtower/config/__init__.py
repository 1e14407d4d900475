"""Configuration: one typed, validated object built once and passed down."""

from switchtower.config.load import default_operations, find_config_file, load_config, starter_text
from switchtower.config.schema import (
    ClassifierConfig,
    ComponentConfig,
    Config,
    ExperimentConfig,
    GuardRule,
    ModelConfig,
    OperationConfig,
    RetryConfig,
    RouterConfig,
    SelectorConfig,
    ServerConfig,
    StorageConfig,
    TierConfig,
)

__all__ = [
    "ClassifierConfig",
    "ComponentConfig",
    "Config",
    "ExperimentConfig",
    "GuardRule",
    "ModelConfig",
    "OperationConfig",
    "RetryConfig",
    "RouterConfig",
    "SelectorConfig",
    "ServerConfig",
    "StorageConfig",
    "TierConfig",
    "default_operations",
    "find_config_file",
    "load_config",
    "starter_text",
]
