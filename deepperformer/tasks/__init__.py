"""LightningModules: losses, optimisers and logging only (the models live in deepperformer.models)."""
