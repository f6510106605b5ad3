"""`retrieve`: the top chunks of an lmforge RAG index for a query (`lmforge rag index` builds it).

The index is opened once, when the tool is built, so a missing index or extra fails before the
agent starts, and each call costs one query embedding plus the search.
"""

from pathlib import Path

from lmforge.agent.tools.base import Tool
from lmforge.config import load_config
from lmforge.rag.config import RagConfig


def retrieve_tool(index: Path, k: int = 3) -> Tool:
    from lmforge.rag.embed import Embedder
    from lmforge.rag.factory import make_retriever, open_store

    cfg = load_config(RagConfig, index) if index.is_file() else RagConfig(index=index)
    embedder = Embedder(cfg.embedder, cfg.batch_size)
    retriever = make_retriever(cfg, open_store(cfg, embedder), embedder)

    def retrieve(query: str) -> str:
        hits = retriever.retrieve(query, k).hits
        return "\n\n".join(f"[{i + 1}] {h.chunk.text}" for i, h in enumerate(hits)) or "no match"

    schema = {
        "type": "object",
        "properties": {"query": {"type": "string", "description": "What to look up."}},
        "required": ["query"],
    }
    return Tool(
        "retrieve", "Search the document index; returns the best passages.", schema, retrieve
    )
