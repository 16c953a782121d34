"""The network: timm ViT backbone, dense classifiers, the model and its loader, timm conversion."""
