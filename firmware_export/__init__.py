"""TensorFlow Lite Micro sources from a full-integer TFLite model: the public facade over ``edgedigits.firmware``.

    python -m firmware_export MODEL.int8.tflite --out DIR

``generate(model.int8.tflite, out_dir)`` writes model_data.h/.cc, op_resolver.h, model_config.h, main.cc and a
README with build steps and a board budget. This package depends on ``edgedigits``, never the other way.
"""

from edgedigits.export.firmware import (
           BOARDS,
           arena_with_margin,
           budget,
           c_identifier,
           check_full_integer,
           generate,
           measure_arena,
           resolver_method,
           tflm_interpreter,
)
from edgedigits.runtime.tflite_file import inspect

__all__ = ["BOARDS", "arena_with_margin", "budget", "c_identifier", "check_full_integer", "generate", "inspect",
           "measure_arena", "resolver_method", "tflm_interpreter"]
