"""Onestep model factory: data -> autoencoder -> teacher -> DMD student -> evaluation -> ONNX export."""
