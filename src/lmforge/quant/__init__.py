"""Post-training weight quantization: RTN, AWQ and GPTQ, written to AutoAWQ / GPTQ checkpoints.

`quantize_model` runs layer by layer over a transformers model with calibration text; `pack`
writes the result in the tensor layouts AutoAWQ and GPTQModel/AutoGPTQ use, `load` reads such
checkpoints (ours or theirs) back for the engine, and `gguf_export` writes llama.cpp files.
"""
