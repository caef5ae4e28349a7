"""The passes behind ``quantize_fx``: tracing with quantized modules kept whole (``tracer``), the op patterns of the
default x86 backend configuration (``patterns``), module fusion (``fuse``), observer insertion (``prepare``) and the
lowering to int8 modules and quantized functional ops (``convert``)."""
