"""Optional hybrid ranking: embeddings re-order readable candidates; failures fall back."""
from __future__ import annotations

from backend.drafting.model import DraftOptions
from backend.governance.identity import Principal
from backend.governance.pii import Redactor
from backend.knowledge.hybrid import fuse
from backend.providers.embeddings import build_embedder
from backend.services import grounding, knowledge
from tests.knowledge.kb_support import write_pdf

PAGES = ["Zephyr broken glass is not covered by the warranty.",
         "Zephyr repair service: write to fixit@acme-example.com and we repair faults.",
         "Zephyr manual, chapter 9: repair."]
READER = Principal(idp="local", tenant_id="acme", subject="sam", user_id="u1",
                   groups=frozenset({"staff"}))


class WordEmbedder:
    """Three made-up dimensions: repairing, glass, manuals. Records what it was sent."""

    def __init__(self, fail: bool = False):
        self.inputs: list[str] = []
        self.fail = fail

    def embed(self, texts):
        if self.fail:
            raise ConnectionError("embeddings endpoint down")
        self.inputs += texts
        low = [t.lower() for t in texts]
        return [[t.count("repair") + t.count("fix"), t.count("glass"), t.count("manual")]
                for t in low]


def _sources(make_app, operator, tmp_path, embedder):
    app = make_app(kb_passages=1, kb_embedding_model="fake-embeddings")
    rt = app.extensions["replywise"]
    rt.caches["kb_embedder"] = embedder
    folder = tmp_path / "manual"
    folder.mkdir()
    write_pdf(folder / "zephyr.pdf", PAGES)
    knowledge.ingest_path(rt, operator, folder, groups=["staff"])
    _, _, shown = grounding.sources_for(rt, READER, "Zephyr broken", "Can you fix it?",
                                        DraftOptions(), Redactor())
    return shown


def test_embeddings_promote_the_passage_closest_in_meaning(make_app, operator, tmp_path):
    embedder = WordEmbedder()
    shown = _sources(make_app, operator, tmp_path, embedder)
    assert [s.page for s in shown] == [2]
    assert embedder.inputs and not any("fixit@acme-example.com" in t for t in embedder.inputs)


def test_without_embeddings_or_when_they_fail_lexical_order_stands(make_app, operator, tmp_path):
    assert [s.page for s in _sources(make_app, operator, tmp_path, None)] == [1]


def test_an_unavailable_embeddings_endpoint_falls_back_to_lexical(make_app, operator, tmp_path):
    assert [s.page for s in _sources(make_app, operator, tmp_path, WordEmbedder(fail=True))] == [1]


def test_fusion_needs_both_rankings_to_move_a_candidate():
    assert fuse([1, 0], [[0, 1], [1, 0]]) == [0, 1]  # a tie keeps the lexical order
    assert fuse([1, 0, 0], [[0, 1, 0], [2, 0, 0], [1, 0, 1]]) == [1, 0, 2]


def test_hybrid_ranking_is_off_without_a_model_or_an_openai_compatible_provider():
    from backend.providers.llm.base import ProviderConfig
    offline = ProviderConfig(name="offline", kind="offline")
    assert build_embedder([offline], "text-embedding-3-small") is None
    assert build_embedder([ProviderConfig(name="o", kind="openai", model="m", api_key="k")],
                          "") is None
