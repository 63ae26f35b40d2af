"""Jobs built from the estimators.

The demo, which also writes the HTML report, is the command line's (:mod:`aekit.cli.demo`):
the report sits above the tasks.
"""

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
from aekit.tasks.denoising import (
    DenoiseResult,
    denoise_figure,
    psnr,
    run_denoise,
    summed_squared_error,
)
from aekit.tasks.generation import Generation, check_generation_output, generate
from aekit.tasks.nab import (
    NAB_PROFILES,
    NabFileScore,
    NabResult,
    nab_row_scores,
    nab_score,
    nab_score_windows,
    nab_windows,
    read_nab_profiles,
)
from aekit.tasks.outputs import OUTPUT_SUFFIXES, infer_to_file
from aekit.tasks.retrieval import LatentIndex, check_index_output
from aekit.tasks.streaming import STREAM_OUTPUTS, onset_scores, refit_points, streaming_scores

__all__ = [
    "NAB_PROFILES",
    "OUTPUT_SUFFIXES",
    "STREAM_OUTPUTS",
    "CompressionReport",
    "CompressionRow",
    "DenoiseResult",
    "Generation",
    "LatentIndex",
    "NabFileScore",
    "NabResult",
    "QuantizedCodes",
    "check_codes_output",
    "check_generation_output",
    "check_index_output",
    "compress",
    "compression_report",
    "decompress",
    "denoise_figure",
    "dequantize",
    "generate",
    "infer_to_file",
    "load_codes",
    "nab_row_scores",
    "nab_score",
    "nab_score_windows",
    "nab_windows",
    "onset_scores",
    "psnr",
    "quantize",
    "read_nab_profiles",
    "refit_points",
    "run_denoise",
    "save_codes",
    "streaming_scores",
    "summed_squared_error",
]
