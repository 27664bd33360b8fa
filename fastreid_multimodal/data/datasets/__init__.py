"""Every module here registers one dataset in fastreid's DATASET_REGISTRY."""
