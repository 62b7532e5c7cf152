"""Understand one shopper message: small talk / wants a human / complaint, else which FAQ entry.

Order matters (P4, P7, P20): a complaint or a request for a person is detected first and is
never answered from the FAQ; then small talk; then the FAQ entry, answered only when it beats
the threshold AND the runner-up by a margin. Two entries too close to call -> "clarify" (ask
which one was meant, P4); nothing good enough -> "none" (guiding question or hand-over).
Just under the threshold (down to LOW_FACTOR of it, per entry too) an entry far ahead of the
runner-up is still answered; a general-assistant question (weather, sums, tickets) is never.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache

from phrases.faq_file import FaqEntry
from phrases.lang import chinese_count, detect_language, has_chinese
from phrases.matching.features import W_CONCEPT, Analyzer, Query
from phrases.matching.index import Doc, FeatureIndex, Hit
from phrases.matching.lexicon import LEXICON_DIR, Lexicon, default_lexicon
from phrases.yaml_text import load_yaml

SMALLTALK_PREFIX = "smalltalk:"

# Decision constants. Scores are TF-IDF cosines in 0..1 (see matching/index.py).
ANSWER_THRESHOLD = {"zh": 0.09, "en": 0.35}
# The runner-up within this share of the best score is "too close to call": ask which (P4).
CLOSE_RATIO = 0.95
# Below the threshold, down to LOW_FACTOR of it, an entry is still answered when it leads the
# runner-up clearly (runner-up at most LOW_MAX_RATIO of it): a colloquial paraphrase scores low
# but points at one entry, a near-miss question shares a word or two with several.
# English scores carry the fuzzy ratio and are spread differently: no low zone there.
LOW_FACTOR = {"zh": 0.8, "en": 1.0}
LOW_MAX_RATIO = 0.6
CLARIFY_FLOOR = 0.8  # a clarify also needs the runner-up to be nearly as good as the threshold
SMALLTALK_THRESHOLD = 0.5
MAX_CHARS = 500  # longer messages are matched on their first 500 characters
SMALLTALK_OVER_ANSWER = 0.9
TALK_STOP_WEIGHT = 0.08
TALK_UNKNOWN_FACTOR = 1.0
ANSWER_DOC_BOOST = 0.8
UNION_DOC_BOOST = 1.0
# Weight of the rapidfuzz ratio in the final score. In Chinese it helps ranking but blurs the
# line to out-of-scope questions (measured on zh-shop dev), so it is off there.
FUZZ_WEIGHT = {"zh": 0.0, "en": 0.5}
# Weight of an entry's second-best matching text (another phrasing, or the joined phrasings)
# in its score: agreement of two texts separates real paraphrases from one shared rare word.
SECOND_WEIGHT = {"zh": 0.7, "en": 0.0}


class Intent(StrEnum):
    """What a message is, when it is not an FAQ question."""

    GREETING = "greeting"
    THANKS = "thanks"
    FAREWELL = "farewell"
    HUMAN = "human"
    COMPLAINT = "complaint"  # includes anger and insults at the shop (P7, P20)
    ACK = "ack"  # 好的, 嗯嗯, ok, 👍: asks nothing, needs no hand-over (应答, §七)
    BOT = "bot"  # "are you a bot?": answered honestly (P3)
    OFFTOPIC = "offtopic"  # weather, sums, jokes: a friendly scope answer (P4), not the FAQ


@dataclass(frozen=True)
class Candidate:
    """An FAQ entry and how well it matched (0..1)."""

    entry_id: str
    score: float


@dataclass(frozen=True)
class Understanding:
    """The result of understanding one message."""

    intent: Intent | None
    decision: str  # "intent" | "answer" | "clarify" | "none"
    candidates: tuple[Candidate, ...]  # best first, at most 3
    order_ids: tuple[str, ...]
    language: str
    # The FAQ's own verdict, kept when an intent wins: a complaint about a torn shirt still
    # knows which after-sales answer fits it.
    faq_decision: str = "none"

    @property
    def best(self) -> Candidate | None:
        """The best FAQ candidate, if any."""
        return self.candidates[0] if self.candidates else None


_LATIN_LETTER_RE = re.compile(r"[a-z]")
_ESCAPE_RE = re.compile(r"\\.")


class Alternation:
    """Rule patterns joined into one regex per script.

    One search per message instead of one per pattern; and split by script because Python's
    re scans a text several times faster for Chinese literals alone or Latin words alone than
    for both in one alternation, while a text without Chinese needs no Chinese pattern at all
    (the rules were half a query's cost on English text; bench_matcher). A pattern with both
    scripts joins both regexes; one with neither (digits, symbols) runs on every text.
    """

    def __init__(self, patterns: Iterable[re.Pattern[str]]) -> None:
        han: list[str] = []
        latin: list[str] = []
        for p in patterns:
            is_han = has_chinese(p.pattern)
            is_latin = _LATIN_LETTER_RE.search(_ESCAPE_RE.sub("", p.pattern)) is not None
            if is_han or not is_latin:
                han.append(p.pattern)
            if is_latin or not is_han:
                latin.append(p.pattern)
        self.han = re.compile("|".join(f"(?:{p})" for p in han)) if han else None
        self.latin = re.compile("|".join(f"(?:{p})" for p in latin)) if latin else None

    def _parts(self, text: str) -> list[re.Pattern[str]]:
        parts = []
        if self.han is not None and has_chinese(text):
            parts.append(self.han)
        if self.latin is not None and _LATIN_LETTER_RE.search(text) is not None:
            parts.append(self.latin)
        return parts

    def search(self, text: str) -> bool:
        """True when any pattern matches somewhere in `text`."""
        return any(p.search(text) is not None for p in self._parts(text))

    def last_start(self, text: str) -> int:
        """Where the last match starts (-1: none)."""
        return max((m.start() for p in self._parts(text) for m in p.finditer(text)), default=-1)

    def sub(self, text: str, repl: str) -> str:
        """`text` with every match replaced."""
        for p in self._parts(text):
            text = p.sub(repl, text)
        return text


@dataclass(frozen=True)
class IntentRules:
    """Keyword rules for the intents that must bypass the FAQ (data/lexicon/intents.yaml)."""

    match: dict[Intent, tuple[re.Pattern[str], ...]]
    unless: dict[Intent, tuple[re.Pattern[str], ...]]
    cues: dict[Intent, tuple[re.Pattern[str], ...]]
    offtopic: tuple[re.Pattern[str], ...] = ()
    ack: re.Pattern[str] | None = None
    _offtopic_any: Alternation = field(init=False, repr=False)
    _match_any: dict[Intent, Alternation] = field(init=False, repr=False)
    _unless_any: dict[Intent, Alternation] = field(init=False, repr=False)
    _cue_any: dict[Intent, Alternation] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_offtopic_any", Alternation(self.offtopic))
        object.__setattr__(self, "_match_any", {i: Alternation(p) for i, p in self.match.items()})
        object.__setattr__(self, "_unless_any",
                           {i: Alternation(p) for i, p in self.unless.items()})
        object.__setattr__(self, "_cue_any", {i: Alternation(p) for i, p in self.cues.items()})

    def off_topic(self, text: str) -> bool:
        """True for a general-assistant question no shop FAQ answers (weather, sums...)."""
        return self._offtopic_any.search(text)

    def acknowledges(self, text: str) -> bool:
        """True when the folded text is made only of acknowledgement and filler words."""
        return bool(text) and self.ack is not None and self.ack.fullmatch(text) is not None

    def find(self, text: str) -> Intent | None:
        for intent, found in self._match_any.items():
            if not found.search(text):
                continue
            veto = self._unless_any.get(intent)
            if veto is None or not veto.search(text):
                return intent
        return None

    def cue(self, text: str) -> tuple[Intent | None, str]:
        """The small-talk intent whose cue comes last in `text` (if any), and the text with
        every cue removed."""
        best: tuple[int, Intent] | None = None
        residual = text
        for intent, found in self._cue_any.items():
            start = found.last_start(text)
            if start >= 0:
                if best is None or start > best[0]:
                    best = (start, intent)
                residual = found.sub(residual, " ")
        return (best[1] if best else None), residual


@lru_cache(maxsize=1)
def builtin_intent_rules() -> IntentRules:
    """Rules from data/lexicon/intents.yaml: complaint, then "are you a bot", then human."""
    data = load_yaml((LEXICON_DIR / "intents.yaml").read_text(encoding="utf-8"))
    match, unless = {}, {}
    for name in ("complaint", "bot", "human"):
        intent = Intent(name)
        match[intent] = tuple(re.compile(p) for p in data[name].get("match") or ())
        unless[intent] = tuple(re.compile(p) for p in data[name].get("unless") or ())
    cues = {Intent(k): tuple(re.compile(p) for p in v) for k, v in (data.get("cues") or {}).items()}
    offtopic = tuple(re.compile(p) for p in data.get("offtopic") or ())
    words = [str(w) for w in data.get("ack") or ()]
    ack = re.compile(r"(?:\s*(?:" + "|".join(words) + r"))+\s*") if words else None
    return IntentRules(match, unless, cues, offtopic, ack)


@lru_cache(maxsize=1)
def builtin_smalltalk() -> dict[str, tuple[str, ...]]:
    """Built-in small-talk examples, zh and en together (shoppers mix languages)."""
    out: dict[str, list[str]] = {}
    for lang in ("zh", "en"):
        data = load_yaml((LEXICON_DIR / f"smalltalk.{lang}.yaml").read_text(encoding="utf-8"))
        for intent, examples in data.items():
            out.setdefault(intent, []).extend(str(e) for e in examples)
    return {k: tuple(v) for k, v in out.items()}


def _talk_index(lexicon: Lexicon, docs: tuple[Doc, ...]) -> FeatureIndex:
    """The small-talk example index (filler words count here: they ARE small talk)."""
    return FeatureIndex(docs, Analyzer(lexicon, stop_weight=TALK_STOP_WEIGHT),
                        TALK_UNKNOWN_FACTOR)


@lru_cache(maxsize=1)
def _builtin_talk_index() -> FeatureIndex:
    docs = tuple(Doc(SMALLTALK_PREFIX + intent, text)
                 for intent, texts in builtin_smalltalk().items() for text in texts)
    return _talk_index(default_lexicon(), docs)


def _is_short(text: str) -> bool:
    """Small talk is short: at most 10 words, or 14 Chinese characters."""
    han = chinese_count(text)
    return han <= 14 and len(text.split()) <= 10


# Where one message holds several questions: sentence ends, a question particle followed by
# a comma or space, and the words that start another question ("还有", "also").
_CLAUSE_RE = re.compile(
    r"[。！？!?；;\n]+|(?<=[吗呢么])[，,、\s]+|[，,]?\s*(?:还有|另外|以及|顺便问下|再问一下)"
    r"|(?<=[a-z])[,]?\s+(?:and also|also|plus|and another thing)\s+",
    re.IGNORECASE,
)
MAX_CLAUSES = 6


def split_clauses(text: str) -> list[str]:
    """The clauses of a message that may each be a question (P2: answer each on its own)."""
    return [p.strip(" ，,") for p in _CLAUSE_RE.split(text[:MAX_CHARS]) if len(p.strip()) >= 2]


def _only_symbols(raw: str, folded: str) -> bool:
    """An emoji or sticker-like message with no words and no question mark: filler."""
    stripped = raw.strip()
    return bool(stripped) and not folded and "?" not in stripped and "？" not in stripped


class Understander:
    """Intent detection and FAQ matching for one shop; build once, query many times."""

    def __init__(
        self,
        entries: Iterable[FaqEntry],
        *,
        smalltalk: Mapping[str, Sequence[str]] | None = None,
        synonyms: Mapping[str, Sequence[str]] | None = None,
        thresholds: Mapping[str, float] | None = None,
        low_factors: Mapping[str, float] | None = None,
        concept_weight: float | None = None,
    ) -> None:
        self.entries = {e.id: e for e in entries}
        # Per-language decision constants; overridable so that cross-validation can fit them
        # on some queries and score on others (bench/eval_faq.py --cv).
        self.thresholds = {**ANSWER_THRESHOLD, **(thresholds or {})}
        self.low_factors = {**LOW_FACTOR, **(low_factors or {})}
        lexicon = default_lexicon().with_synonyms(synonyms)
        self.analyzer = Analyzer(lexicon, concept_weight=concept_weight or W_CONCEPT)
        self.rules = builtin_intent_rules()
        docs: list[Doc] = []
        for e in self.entries.values():
            docs.extend(Doc(e.id, text) for text in e.phrasings)
            if len(e.phrasings) > 1:  # a query may mix words of several phrasings
                docs.append(Doc(e.id, " ".join(e.phrasings), UNION_DOC_BOOST, fuzzy=False))
            # The answer names what the question may not (couriers, apps, cities): a weaker doc.
            docs.append(Doc(e.id, e.answer, ANSWER_DOC_BOOST, fuzzy=False))
        # Small talk is made of the very filler words the FAQ index ignores ("how are you",
        # "在吗"), so it gets its own index whose analyzer keeps them as full words.
        examples = {k: list(v) for k, v in builtin_smalltalk().items()}
        for intent, extra in (smalltalk or {}).items():
            examples.setdefault(intent, []).extend(extra)
        talk_docs = []
        for intent, texts in examples.items():
            Intent(intent)  # unknown intent names fail loudly here
            talk_docs.extend(Doc(SMALLTALK_PREFIX + intent, t) for t in texts)
        # Small-talk words join the typo-repair vocabulary, so "tosomebody" splits right.
        self.index = FeatureIndex(docs, self.analyzer, extra_words=[d.text for d in talk_docs])
        if smalltalk or synonyms:
            self.talk_index = _talk_index(lexicon, tuple(talk_docs))
        else:  # the common case: built-in examples only, built once per process
            self.talk_index = _builtin_talk_index()

    def understand(self, text: str) -> Understanding:
        """Classify one message (pure CPU, no I/O)."""
        order_ids = self.analyzer.normalize(text).order_ids if len(text) > MAX_CHARS else None
        text = text[:MAX_CHARS]  # a wall of text is matched on its start; stays fast
        language = detect_language(text)
        norm = self.analyzer.normalize(text)
        fixed = self.index.correct_text(norm.text)
        # Rules see the text as typed and with typos repaired (repair against a small FAQ
        # vocabulary can also bend a correct word, so it only ever adds matches).
        typo_free = fixed == norm.text  # the common case: each rule runs once
        rule = self.rules.find(norm.text) or (None if typo_free else self.rules.find(fixed))
        # One analysis of the repaired text serves both indexes (it was half a query's cost).
        query = self.analyzer.query(fixed)
        faq = self._search(query, language)
        candidates = tuple(Candidate(h.label, round(h.score, 4)) for h in faq[:3])
        decision = self._decide(faq, language)

        def result(intent: Intent | None, verdict: str) -> Understanding:
            ids = norm.order_ids if order_ids is None else order_ids
            return Understanding(intent, verdict, candidates, ids, language, decision)

        if rule is not None:
            return result(rule, "intent")
        if _only_symbols(text, norm.text) or self.rules.acknowledges(norm.text):
            return result(Intent.ACK, "intent")  # 好的 / ok / 👍: nothing to answer or hand over
        if self.rules.off_topic(norm.text) or (not typo_free and self.rules.off_topic(fixed)):
            # Shares words with an entry perhaps, but no shop FAQ answers it: say what the
            # shop's assistant can do instead (P4).
            return result(Intent.OFFTOPIC, "intent")
        # A confident FAQ answer wins over small talk unless the message IS a small-talk
        # phrase ("hi, where is my parcel" is a question with a greeting in front).
        bar = max(SMALLTALK_THRESHOLD, SMALLTALK_OVER_ANSWER if decision == "answer" else 0.0)
        cue, residual = None, ""
        if _is_short(fixed):  # cues only count in short messages
            cue, residual = self.rules.cue(norm.text)
            if cue is None and not typo_free:
                cue, residual = self.rules.cue(fixed)
        if cue is not None:
            # "hi, where is my parcel" is a question: keep the FAQ answer when what is left
            # after the small-talk cue is still answerable on its own.
            if decision != "answer" or self._decide(self._search(residual, language),
                                                    language) != "answer":
                return result(cue, "intent")
        talk_analyzer = self.talk_index.analyzer
        talk = self.talk_index.search(
            query if self.analyzer.same_features(talk_analyzer) else talk_analyzer.query(fixed),
            k=1)
        if talk and talk[0].score >= bar:
            return result(Intent(talk[0].label.removeprefix(SMALLTALK_PREFIX)), "intent")
        return result(None, decision)

    def understand_parts(self, text: str) -> tuple[tuple[str, Understanding], ...]:
        """Each clause of a message with several questions, understood on its own; empty
        when the message is one clause."""
        clauses = split_clauses(text)
        if len(clauses) < 2:
            return ()
        return tuple((c, self.understand(c)) for c in clauses[:MAX_CLAUSES])

    def _search(self, query: str | Query, language: str) -> list[Hit]:
        return self.index.search(query, k=8, fuzz_weight=FUZZ_WEIGHT[language],
                                 second_weight=SECOND_WEIGHT[language])

    def threshold(self, entry_id: str, language: str) -> float:
        """The score at which an entry is answered (its own, else the language's)."""
        entry = self.entries[entry_id]
        if entry.threshold is not None:
            return entry.threshold
        return self.thresholds.get(language, self.thresholds["zh"])

    def answer_floor(self, entry_id: str, language: str) -> float:
        """The lowest score at which an entry can be answered at all (the low zone's floor,
        reached only with a clear lead over the runner-up)."""
        return self.low_factors.get(language, 1.0) * self.threshold(entry_id, language)

    def _decide(self, faq: list[Hit], language: str) -> str:
        if not faq:
            return "none"
        best = faq[0]
        threshold = self.threshold(best.label, language)
        runner_up = faq[1].score if len(faq) > 1 else 0.0
        if best.score < threshold:
            clear_lead = runner_up <= LOW_MAX_RATIO * best.score
            return ("answer" if clear_lead and best.score >= self.answer_floor(best.label, language)
                    else "none")
        if runner_up < CLOSE_RATIO * best.score or runner_up < CLARIFY_FLOOR * threshold:
            return "answer"
        return "clarify"
