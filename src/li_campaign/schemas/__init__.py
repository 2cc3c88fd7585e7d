"""Pydantic documents: the campaign spec (input) and every stored result (output)."""
