"""Guidance for small models: tool cards and knowledge entries, chosen per model call."""

from agent.guidance.library import Card, GuidanceFormatError, GuidanceLibrary, KnowledgeEntry
from agent.guidance.select import Selection, select

__all__ = ["Card", "GuidanceFormatError", "GuidanceLibrary", "KnowledgeEntry", "Selection", "select"]
