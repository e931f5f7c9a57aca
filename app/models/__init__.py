"""Chat models behind one streaming interface: ``openai`` (any OpenAI-compatible server) and ``local``."""

from app.models.base import ChatModel, ChatRequest, Finished, ModelEvent, TextDelta

__all__ = ["ChatModel", "ChatRequest", "Finished", "ModelEvent", "TextDelta"]
