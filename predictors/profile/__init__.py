"""Profiling on a real GPU: ``python -m predictors.profile`` (or ``revati-search profile``)
measures GEMMs, attention, copies, memory-bound torch kernels, Llama-shaped forward passes, host
costs and (on several GPUs, ``predictors.profile.collectives``) NCCL collectives, and writes a
versioned profile that ``predictors.profiled`` fits its models to.

Only torch (and transformers for the forward passes) is needed; nothing here imports pydantic, so
the harness runs on a bare GPU image.
"""
