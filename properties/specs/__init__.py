"""One module per op family; each registers its OpSpecs on import."""
