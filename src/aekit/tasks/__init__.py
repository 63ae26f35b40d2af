"""Jobs built from the estimators."""

from aekit.tasks.compression import (
    CompressionReport,
    CompressionRow,
    QuantizedCodes,
    check_codes_output,
    compress,
    compression_report,
    decompress,
    dequantize,
    load_codes,
    quantize,
    save_codes,
)
from aekit.tasks.demo import DemoResult, check_demo_output, run_demo
from aekit.tasks.denoising import (
    DenoiseResult,
    denoise_figure,
    psnr,
    run_denoise,
    summed_squared_error,
)
from aekit.tasks.generation import Generation, check_generation_output, generate, image_shape
from aekit.tasks.retrieval import LatentIndex, check_index_output

__all__ = [
    "CompressionReport",
    "CompressionRow",
    "DemoResult",
    "DenoiseResult",
    "Generation",
    "LatentIndex",
    "QuantizedCodes",
    "check_codes_output",
    "check_demo_output",
    "check_generation_output",
    "check_index_output",
    "compress",
    "compression_report",
    "decompress",
    "denoise_figure",
    "dequantize",
    "generate",
    "image_shape",
    "load_codes",
    "psnr",
    "quantize",
    "run_demo",
    "run_denoise",
    "save_codes",
    "summed_squared_error",
]
