"""MLIP fitting and deployment: NequIP trained on frames read from the store."""
