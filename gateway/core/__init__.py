"""The pipeline every front shares: wire-format-free types, routing, dispatch."""
