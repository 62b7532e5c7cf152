"""An inverted index over weighted features: prune to the few phrasings that share features.

Search engines answer short queries by walking posting lists, not by scoring every document;
this does the same with numpy (one bincount over the query's postings), so a query costs
about the same at 40 and at 10,000 entries. The few best labels are then re-scored with
rapidfuzz against their phrasings (cheap on a handful of strings, costly on all of them).
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from phrases.matching.features import LATIN_WORD_RE, Analyzer, Features, Query

# A query feature the index has never seen counts this many times the rarest known feature:
# unknown content ("高铁票", "luggage") is what tells an out-of-scope question apart.
UNKNOWN_IDF_FACTOR = 1.5


# Posting lists longer than this whose feature is this common (IDF below PRUNE_IDF, i.e. in
# more than ~20 % of the entries) are skipped at query time: they add little to any score and
# cost the most time. Small FAQs never reach the length (an entry has about five texts, so
# 600 postings need 120+ entries), so their scores are exact. At 1,000 synthetic entries 600
# instead of 1,500 keeps the right-entry rate within a point and cuts the query's CPU by a
# third (bench_matcher; the eval suites, 25-40 entries, are unchanged).
PRUNE_POSTINGS = 600

# Unknown words remembered with their repair; the memo starts over when it is this full.
MAX_CORRECTIONS = 20_000
PRUNE_IDF = 1.6


@dataclass(frozen=True)
class Doc:
    """One indexed text: whose it is, how much its score counts, whether fuzzy re-scoring
    may compare against it (questions yes; long answers and joined texts no)."""

    label: str
    text: str
    boost: float = 1.0
    fuzzy: bool = True


@dataclass(frozen=True)
class Hit:
    """One scored label (an FAQ id or "smalltalk:<intent>") and the phrasing that matched."""

    label: str
    score: float
    doc: int


class FeatureIndex:
    """TF-IDF cosine over features, documents grouped by label.

    IDF is counted per label (an entry's phrasings together), so a word every entry uses
    weighs nothing, and a query feature the index has never seen counts as maximally rare:
    unknown content pulls the score down, which is what keeps out-of-scope questions out.
    A Doc's boost scales its score (an answer text counts less than a question).
    """

    def __init__(
        self,
        docs: Sequence[Doc],
        analyzer: Analyzer,
        unknown_factor: float = UNKNOWN_IDF_FACTOR,
        extra_words: Iterable[str] = (),
    ) -> None:
        self.analyzer = analyzer
        self.labels: list[str] = []
        self.label_ids: dict[str, int] = {}
        label_ids = self.label_ids
        self.doc_label = np.zeros(len(docs), dtype=np.int32)
        doc_feats: list[Features] = []
        word_counts: dict[str, int] = {}
        self.doc_surfaces: list[str] = []
        for i, (label, text) in enumerate((d.label, d.text) for d in docs):
            if label not in label_ids:
                label_ids[label] = len(self.labels)
                self.labels.append(label)
            self.doc_label[i] = label_ids[label]
            folded = analyzer.normalize(text).text
            for word in folded.split():
                if word.isalpha():
                    word_counts[word] = word_counts.get(word, 0) + 1
            rewritten = analyzer.rewrite(folded)
            doc_feats.append(analyzer.features_of(rewritten))
            self.doc_surfaces.append(analyzer.surface(rewritten) if docs[i].fuzzy else "")
        for text in extra_words:
            for word in analyzer.normalize(text).text.split():
                if word.isalpha():
                    word_counts.setdefault(word, 0)
        self._init_vocab(word_counts)
        # Vectorised build: one (doc, feature, weight) triplet per posting, then numpy.
        feat_ids: dict[str, int] = {}
        t_doc, t_feat, t_w = array("i"), array("i"), array("d")
        for i, feats in enumerate(doc_feats):
            for f, w in feats.items():
                fid = feat_ids.get(f)
                if fid is None:
                    fid = feat_ids[f] = len(feat_ids)
                t_doc.append(i)
                t_feat.append(fid)
                t_w.append(w)
        del doc_feats
        n, n_feats = len(self.labels), len(feat_ids)
        doc = np.array(t_doc, dtype=np.int64)
        feat = np.array(t_feat, dtype=np.int64)
        # Document frequency per label: distinct (feature, label) pairs.
        pairs = np.unique(feat * max(n, 1) + self.doc_label[doc])
        df = np.bincount(pairs // max(n, 1), minlength=n_feats)
        idf = np.log1p((n - df + 0.5) / (df + 0.5))
        self.idf = dict(zip(feat_ids, idf.tolist(), strict=True))
        self.idf_unknown = unknown_factor * math.log(1.0 + (n + 0.5) / 0.5)
        weights = np.array(t_w, dtype=np.float64) * idf[feat]
        norms = np.sqrt(np.bincount(doc, weights=weights * weights, minlength=len(docs)))
        norms[norms == 0.0] = 1.0
        boost = np.array([d.boost for d in docs], dtype=np.float64)
        weights *= (boost / norms)[doc]
        order = np.argsort(feat, kind="stable")
        post_docs = doc[order].astype(np.int32)
        post_w = weights[order]
        ptr = np.concatenate(([0], np.cumsum(np.bincount(feat, minlength=n_feats))))
        bounds = ptr.tolist()
        # What a query walks: the posting lists pruning keeps, with their lengths (decided
        # once here rather than per query feature on every query).
        self.live = {
            f: (post_docs[bounds[fid] : bounds[fid + 1]], post_w[bounds[fid] : bounds[fid + 1]],
                bounds[fid + 1] - bounds[fid])
            for f, fid in feat_ids.items()
            if bounds[fid + 1] - bounds[fid] < PRUNE_POSTINGS or self.idf[f] > PRUNE_IDF
        }
        self.doc_fuzzy = [d.fuzzy for d in docs]
        self.n_docs = len(docs)
        self.label_docs: list[list[int]] = [[] for _ in self.labels]
        for i, lab in enumerate(self.doc_label):
            self.label_docs[int(lab)].append(i)
        # What fuzzy re-scoring compares a query with, per label (its question texts).
        self.label_surfaces: list[list[str]] = [
            [self.doc_surfaces[d] for d in docs if self.doc_fuzzy[d]] for docs in self.label_docs]

    def _init_vocab(self, word_counts: dict[str, int]) -> None:
        """Spelling-correction vocabulary, most frequent first so ties go to common words."""
        known = dict.fromkeys(self.analyzer.known_words, 0)
        known.update(word_counts)
        self.vocab = frozenset(known)
        self._corrections: dict[str, str] = {}
        self._by_initial: dict[str, list[str]] = {}
        self._by_swapped: dict[str, list[str]] = {}  # "ab" -> words starting "ba"
        for word in sorted(known, key=lambda w: -known[w]):
            self._by_initial.setdefault(word[0], []).append(word)
            if len(word) > 1 and word[0] != word[1]:
                self._by_swapped.setdefault(word[1] + word[0], []).append(word)

    def correct(self, word: str) -> str:
        """Nearest known word for an unknown Latin word of 4+ letters (typo repair).

        Memoised per index: the fuzzy lookup of an unknown word was the largest part of a
        query's cost, and shoppers repeat the same words (bench_matcher)."""
        if word in self.vocab:
            return word
        known = self._corrections.get(word)
        if known is None:
            if len(self._corrections) >= MAX_CORRECTIONS:
                self._corrections.clear()
            known = self._corrections[word] = self._correct(word)
        return known

    def _correct(self, word: str) -> str:
        if len(word) == 3:  # only a swapped pair: "egt" -> "get"
            for cand in (word[1] + word[0] + word[2], word[0] + word[2] + word[1]):
                if cand in self.vocab:
                    return cand
            return word
        if len(word) < 3:
            return word
        split = self._split(word) if len(word) >= 6 else None
        if split:  # two known words explain it exactly: better than any edit
            return split
        max_dist = 1 if len(word) <= 5 else 2
        # Typos rarely hit the first letter; swapped first letters are the exception.
        choices = self._by_initial.get(word[0], []) + self._by_swapped.get(word[:2], [])
        found = process.extractOne(word, choices, scorer=OSA.distance, score_cutoff=max_dist)
        if found:
            cand = str(found[0])
            # In short words a swapped letter is a real other word ("think" vs "thank"):
            # accept only dropped, added or transposed letters there.
            if len(word) > 5 or len(cand) != len(word) or sorted(cand) == sorted(word):
                return cand
        return word

    def _split(self, word: str) -> str | None:
        """Two known words typed without a space ("tosomebody" -> "to somebody")."""
        best: tuple[int, str] | None = None
        for i in range(2, len(word) - 1):
            left, right = word[:i], word[i:]
            if left in self.vocab and right in self.vocab:
                shorter = min(len(left), len(right))
                if best is None or shorter > best[0]:
                    best = (shorter, f"{left} {right}")
        return best[1] if best else None

    def correct_text(self, folded: str) -> str:
        """`folded` with misspelt or glued Latin words repaired."""
        return LATIN_WORD_RE.sub(lambda m: self.correct(m.group(0)), folded)

    def query(self, folded: str) -> Query:
        """A normalised text ready to search: typos repaired against this index's words."""
        return self.analyzer.query(folded, self.correct)

    def query_vector(self, query: Query) -> tuple[dict[str, float], float]:
        """Query features weighted by IDF, and the query norm (unknown features included)."""
        idf, unknown = self.idf, self.idf_unknown
        vec = {f: w * idf.get(f, unknown) for f, w in query.features.items()}
        norm = math.sqrt(sum(v * v for v in vec.values()))
        return vec, norm

    def search(self, query: str | Query, k: int = 10, fuzz_weight: float = 0.0,
               second_weight: float = 0.0) -> list[Hit]:
        """Best phrasing per label, up to `k` labels, best first.

        `query` is a normalised text, or a Query already analysed (one analysis serves the
        FAQ and the small-talk index when their analyzers agree: see Analyzer.same_features).

        With `second_weight` > 0 a label's score is (best + w * second best) / (1 + w) over
        its own texts: a question two phrasings of one entry agree on is more likely that
        entry's than one that a single phrasing happens to share a rare word with.

        With `fuzz_weight` > 0 the score is (cosine + w * rapidfuzz ratio) / (1 + w), the
        ratio taken between the query and the label's best-matching phrasing.
        """
        if isinstance(query, str):
            query = self.query(query)
        vec, norm = self.query_vector(query)
        if norm == 0.0 or self.n_docs == 0:
            return []
        ids_parts, w_parts, scales, sizes = [], [], [], []
        live = self.live
        for f, qv in vec.items():
            post = live.get(f)
            if post is not None:
                ids_parts.append(post[0])
                w_parts.append(post[1])
                scales.append(qv / norm)
                sizes.append(post[2])
        if not ids_parts:
            return []
        # One multiply for all postings (a numpy call per feature costs more than its work).
        weights = np.concatenate(w_parts) * np.repeat(scales, sizes)
        scores = np.bincount(np.concatenate(ids_parts), weights=weights, minlength=self.n_docs)
        top = min(self.n_docs, 4 * k)
        if top < self.n_docs:
            best_docs = np.argpartition(-scores, top - 1)[:top]
        else:
            best_docs = np.arange(self.n_docs)
        best_docs = best_docs[np.argsort(-scores[best_docs], kind="stable")]
        hits: list[Hit] = []
        seen: dict[int, int] = {}  # label -> its place in hits; -1 once its second is seen
        seconds: dict[int, float] = {}
        # Plain Python numbers for the loop: indexing numpy arrays one element at a time
        # costs more than the search itself on small FAQs.
        for d, s, lab in zip(best_docs.tolist(), scores[best_docs].tolist(),
                             self.doc_label[best_docs].tolist(), strict=True):
            if s <= 0.0:
                break
            if lab in seen:
                if seen[lab] >= 0:  # this label's second best text
                    seconds[seen[lab]] = s
                    seen[lab] = -1
                continue
            if len(hits) >= k:
                if second_weight <= 0.0:
                    break
                continue  # still looking for the second texts of the labels we have
            seen[lab] = len(hits)
            hits.append(Hit(self.labels[lab], min(1.0, s), int(d)))
        if second_weight > 0.0 and hits:
            hits = [Hit(h.label, (h.score + second_weight * min(1.0, seconds.get(i, 0.0)))
                        / (1.0 + second_weight), h.doc) for i, h in enumerate(hits)]
            hits.sort(key=lambda h: -h.score)
        if fuzz_weight > 0.0 and hits:
            hits = self._rerank(self.analyzer.surface(query.rewritten), hits, fuzz_weight)
        return hits

    def _rerank(self, query: str, hits: list[Hit], weight: float) -> list[Hit]:
        # One rapidfuzz call over every candidate text (a call per text cost more than the
        # comparisons), then each label's best ratio.
        surfaces: list[str] = []
        owner: list[int] = []
        for i, hit in enumerate(hits):
            texts = self.label_surfaces[self.label_ids[hit.label]]
            surfaces += texts
            owner += [i] * len(texts)
        best = [0.0] * len(hits)
        for _, ratio, j in process.extract(query, surfaces, scorer=fuzz.ratio, limit=None):
            if ratio > best[owner[j]]:
                best[owner[j]] = ratio
        rescored = [Hit(h.label, (h.score + weight * best[i] / 100.0) / (1.0 + weight), h.doc)
                    for i, h in enumerate(hits)]
        rescored.sort(key=lambda h: -h.score)
        return rescored
