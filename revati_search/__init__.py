"""revati-search: GPU-free configuration search for LLM serving."""
