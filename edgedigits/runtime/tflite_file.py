"""The TFLite file: structural checks before an interpreter sees it, and what it holds (operators, tensor types,
input and output). The one place that reads the flatbuffer; the runtime and the firmware generator call it."""

from __future__ import annotations

import importlib
import math
import struct
import warnings

from edgedigits.errors import EdgeDigitsError


def check(blob: bytes, where: str) -> None:
    """Cheap structural checks before a flatbuffer reaches the interpreter (malformed ones can segfault it)."""
    if len(blob) < 16 or blob[4:8] != b"TFL3":
        raise EdgeDigitsError(f"{where} is not a TFLite model (no TFL3 identifier)")
    root = struct.unpack_from("<I", blob, 0)[0]
    if not 8 <= root <= len(blob) - 4:
        raise EdgeDigitsError(f"{where} is a corrupt TFLite model (root table offset {root} outside the file)")
    vtable = root - struct.unpack_from("<i", blob, root)[0]
    if not 0 <= vtable <= len(blob) - 4:
        raise EdgeDigitsError(f"{where} is a corrupt TFLite model (vtable offset outside the file)")
    vt_size = struct.unpack_from("<H", blob, vtable)[0]
    if vt_size < 4 or vtable + vt_size > len(blob):
        raise EdgeDigitsError(f"{where} is a corrupt or truncated TFLite model")
    _walk(blob, where)


MAX_TENSOR_ELEMENTS = 1 << 24  # 64 MB of float32: a 28x28 classifier's largest tensor is a few hundred KB

SCHEMA_MODULES = (  # where the flatbuffer schema bindings ship, tried in turn
    "ai_edge_litert.schema_py_generated",  # [runtime]
    "tflite_micro.tensorflow.lite.micro.python.schema_py_generated",  # [firmware]
    "tensorflow.lite.python.schema_py_generated",  # [train]
)


def schema():
    """The TFLite flatbuffer schema bindings, from the first package in ``SCHEMA_MODULES`` that has them, or None."""
    for name in SCHEMA_MODULES:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None


def _require_schema():
    found = schema()
    if found is None:
        raise EdgeDigitsError("reading a .tflite file needs the flatbuffer schema that ai-edge-litert ships: "
                              "pip install 'edgedigits[runtime]'")
    return found


def _walk(blob: bytes, where: str) -> None:
    """Read every table the interpreter will follow, with bounds checks, so a bad offset fails here, in Python.
    Without the schema (tflite-runtime alone ships none) only the header is checked, and a warning says so."""
    fb = schema()
    if fb is None:
        warnings.warn(f"{where}: only the header of this .tflite file was checked (no flatbuffer schema: "
                      "pip install ai-edge-litert)", stacklevel=3)
        return
    size = len(blob)

    def offset_ok(table) -> None:
        if table is None or not 0 <= table._tab.Pos < size:
            raise ValueError("table outside the file")

    try:
        model = fb.Model.GetRootAsModel(blob, 0)
        offset_ok(model)
        n_codes, n_buffers = model.OperatorCodesLength(), model.BuffersLength()
        if model.SubgraphsLength() < 1 or n_codes < 1:
            raise ValueError("no subgraph or no operators")
        for i in range(n_codes):
            offset_ok(model.OperatorCodes(i))
        for i in range(n_buffers):
            buffer = model.Buffers(i)
            offset_ok(buffer)
            if buffer.DataLength() and buffer._tab.Vector(buffer._tab.Offset(4)) + buffer.DataLength() > size:
                raise ValueError("buffer data outside the file")
            if buffer.Offset() and buffer.Offset() + buffer.Size() > size:  # data stored after the flatbuffer
                raise ValueError("buffer data outside the file")
        for g in range(model.SubgraphsLength()):
            graph = model.Subgraphs(g)
            offset_ok(graph)
            n_tensors = graph.TensorsLength()
            for t in range(n_tensors):
                tensor = graph.Tensors(t)
                offset_ok(tensor)
                if not 0 <= tensor.Buffer() < max(1, n_buffers) or tensor.ShapeLength() > 8:
                    raise ValueError("tensor with a bad buffer index or rank")
                elements = math.prod(max(1, int(d)) for d in tensor.ShapeAsNumpy()) if tensor.ShapeLength() else 1
                if elements > MAX_TENSOR_ELEMENTS:
                    raise ValueError(f"a tensor of {elements:,} elements, over the {MAX_TENSOR_ELEMENTS:,} a digit "
                                     "classifier could need")
            for index in [*graph.InputsAsNumpy(), *graph.OutputsAsNumpy()]:
                if not 0 <= index < n_tensors:
                    raise ValueError("graph input/output index out of range")
            for o in range(graph.OperatorsLength()):
                op = graph.Operators(o)
                offset_ok(op)
                if not 0 <= op.OpcodeIndex() < n_codes:
                    raise ValueError("operator code index out of range")
                for index in [*op.InputsAsNumpy(), *op.OutputsAsNumpy()]:
                    if not -1 <= index < n_tensors:  # -1 marks an optional input
                        raise ValueError("operator tensor index out of range")
    except (ValueError, IndexError, struct.error, TypeError, AttributeError) as exc:
        raise EdgeDigitsError(f"{where} is a corrupt TFLite model ({exc})") from None


def inspect(blob: bytes, where: str) -> dict:
    """Operators, tensor types and I/O of a .tflite flatbuffer."""
    check(blob, where)
    fb = _require_schema()
    names = {v: k for k, v in vars(fb.BuiltinOperator).items() if not k.startswith("_")}
    types = {v: k for k, v in vars(fb.TensorType).items() if not k.startswith("_")}
    try:
        model = fb.Model.GetRootAsModel(blob, 0)
        graph = model.Subgraphs(0)
        codes = []
        for i in range(model.OperatorCodesLength()):
            code = model.OperatorCodes(i)
            codes.append(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()))
        used = sorted({codes[graph.Operators(i).OpcodeIndex()] for i in range(graph.OperatorsLength())})
        tensor_types = {types[graph.Tensors(i).Type()] for i in range(graph.TensorsLength())}

        def tensor(index):
            t = graph.Tensors(index)
            q = t.Quantization()
            scale = float(q.Scale(0)) if q is not None and q.ScaleLength() else None
            zero = int(q.ZeroPoint(0)) if q is not None and q.ZeroPointLength() else None
            return {"shape": [int(d) for d in t.ShapeAsNumpy()], "dtype": types[t.Type()].lower(),
                    "scale": scale, "zero_point": zero}

        io = {"input": tensor(graph.Inputs(0)), "output": tensor(graph.Outputs(0))}
    except (IndexError, AttributeError, ValueError, TypeError, KeyError) as exc:
        raise EdgeDigitsError(f"{where} is a corrupt TFLite model ({type(exc).__name__})") from None
    ops = [names.get(code, f"CUSTOM_{code}") for code in used]
    return {"ops": ops, "tensor_types": sorted(tensor_types), "io": io}
