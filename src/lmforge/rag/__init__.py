"""Retrieval-augmented generation: documents, chunks, indexes, retrieval, answers (docs/rag.md)."""
