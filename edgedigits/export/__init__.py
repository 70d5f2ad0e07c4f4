""".keras -> .onnx / .tflite -> TensorFlow Lite Micro sources, each verified in its own runtime."""
