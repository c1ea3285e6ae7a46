"""A loopback model that writes as real models do, for the faithfulness evaluation and the end-to-end
test: it answers ResearchBot's prompts (over tests/fakes/openai_server.FakeOpenAI, real HTTP) from the
labelled data in tests/data/eval/.

- **Drafts** answer the question in other words than the page's (the question set's ``paraphrase``),
  then add labelled claims about the pages it was given: true ones paraphrased or copied, and false ones
  that reuse the page's own words (negated, a number, a name or a relation changed, overclaimed, plausible
  but unsaid), and a true one cited to the wrong source. For a question its sources do not answer it
  answers from memory, citing its first source.
- **Its judge** knows the labels, and decides each claim as a careful reader of the passages it is shown
  would: supported when a passage shown holds the claim's evidence and the claim is true (citing that
  passage's source), contradicted when it holds it and the claim is false, not enough information when no
  passage shown holds it; the question is answered when any passage shown (for the question or for a
  claim) holds its answer. So it is only as right as retrieval lets it be. ``judge_error`` makes it
  wrong on that share of claims, each chosen by a seeded hash of the claim: repeatable.
- **Final answers** keep the approved draft and add one more true, paraphrased claim.

``written`` records, per question, each claim written (its statement with citations) and its label.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EVAL = Path(__file__).resolve().parents[1] / "data" / "eval"
TRUE_KINDS = frozenset({"answer", "verbatim", "paraphrased", "wrong_citation"})
FALSE_KINDS = ("negated", "number", "entity", "reversed", "overclaimed", "unsupported")
MEMORY_ANSWER = "From what I know, this is well documented and settled for good"
FINAL_LEAD = "Taking in the approver's feedback, here is the answer in brief."

_SOURCE_BLOCK = re.compile(r'^\[(\d+)\] .*\n(\S+)\n<source number="\d+">', re.M)
_JUDGED_CLAIM = re.compile(r"^Claim (\d+): (.*?)\n(.*?)(?=^Claim \d+: |\Z)", re.M | re.S)
_PASSAGE = re.compile(r'<source n="(\d+)">\n(.*?)\n</source>', re.S)
_MARKUP = re.compile(r"[*_`]")


def load_labelled() -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The question set and the labelled claims."""
    questions = json.loads((EVAL / "corpus_questions.json").read_text())
    claims = [claim for path in sorted((EVAL / "claims").glob("*.json")) for claim in json.loads(path.read_text())]
    return questions, claims


def judged_claims(messages: list[dict]) -> list[tuple[int, str, list[tuple[int, str]]]]:
    """The claims of a judge's prompt: (number, statement, [(source number, passage)])."""
    user = str(messages[-1].get("content", ""))
    return [
        (int(number), statement.strip(), [(int(n), text) for n, text in _PASSAGE.findall(block)])
        for number, statement, block in _JUDGED_CLAIM.findall(user)
    ]


def normal(text: str) -> str:
    return " ".join(_MARKUP.sub("", text).replace("\u2026", " ").split()).lower()


def key(statement: str) -> str:
    """A claim as the judge is shown it (its citations taken out) and as labelled, alike."""
    return normal(statement).rstrip(" .")


def holds(passage: str, evidence: str) -> bool:
    """Whether a passage shown (maybe cut, ending in …) holds the evidence, or one of its sentences."""
    shown, said = normal(passage), normal(evidence)
    pieces = [p for p in re.split(r"(?<=[.!?;:])\s+", said) if len(p) >= 25] or [said]
    return any(piece[:120] in shown for piece in pieces) or (len(shown) >= 40 and shown in said)


@dataclass
class Label:
    kind: str
    evidence: str
    source: str  # the page that holds the evidence


@dataclass
class ParaphrasingModel:
    judge_error: float = 0.0
    seed: int = 0
    questions: dict[str, Any] = field(default_factory=dict)
    claims: list[dict[str, str]] = field(default_factory=list)
    written: dict[str, dict[str, str]] = field(default_factory=dict)  # question -> statement -> kind
    judge_calls: int = 0
    _for_question: dict[str, list[tuple[int, str]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.questions:
            self.questions, self.claims = load_labelled()
        self._answers = {case["question"]: case for case in self.questions["answerable"]}
        self._labels: dict[str, Label] = {
            key(c["claim"]): Label(c["category"], c["evidence"], c["source"]) for c in self.claims
        }
        for case in self.questions["answerable"]:
            self._labels[key(case["paraphrase"])] = Label("answer", case["answer"], case["source"])

    def label_of(self, statement: str) -> Label | None:
        """The label of a claim written (its citations taken out)."""
        return self._labels.get(key(statement))

    # ------------------------------------------------------------ prompts

    def plan(self, messages: list[dict]) -> str:
        question = messages[-1]["content"]
        return json.dumps({"sub_questions": [question, f"{question} explained"]})

    def draft(self, messages: list[dict]) -> str:
        user = messages[-1]["content"]
        question = user.split("\n", 1)[0].removeprefix("Question: ").strip()
        numbers = {url.removeprefix("local://"): int(n) for n, url in _SOURCE_BLOCK.findall(user)}
        written = self.written.setdefault(question, {})
        case = self._answers.get(question)
        if case is None or case["source"] not in numbers:
            return self._write([(MEMORY_ANSWER, 1, "memory")], written)
        lines = [(case["paraphrase"], numbers[case["source"]], "answer")]
        lines += self._about(case, numbers, position=list(self._answers).index(question))
        return self._write(lines, written)

    def finalize(self, messages: list[dict]) -> str:
        user = messages[-1]["content"]
        approved = user.split("Approved draft:\n", 1)[1].split("\n\nApprover's feedback:", 1)[0]
        question = user.split("\n", 1)[0].removeprefix("Question: ").strip()
        numbers = {url.removeprefix("local://"): int(n) for n, url in _SOURCE_BLOCK.findall(user)}
        case = self._answers.get(question)
        extra = []
        if case is not None:
            used = {normal(line) for line in approved.splitlines()}
            extra = [
                f"- {c['claim']} [{numbers[c['source']]}]"
                for c in self._of(case["source"], "paraphrased")
                if c["source"] in numbers and normal(c["claim"]) not in " ".join(used)
            ][-1:]
        return "\n".join([FINAL_LEAD, "", approved, *extra])

    def judge(self, messages: list[dict]) -> str:
        self.judge_calls += 1
        user = messages[-1]["content"]
        question = user.split("\n", 1)[0].removeprefix("Question: ").strip()
        # The question's passages come with the first batch of claims; they count for every claim.
        shown = (
            user.split("Passages for the question:", 1)[1].split("\n\nClaim 1: ", 1)[0]
            if "Passages for" in user
            else ""
        )
        for_question = [(int(n), text) for n, text in _PASSAGE.findall(shown)]
        self._for_question[question] = for_question or self._for_question.get(question, [])
        verdicts = [
            {"claim": number, **self._verdict(statement, passages + self._for_question[question])}
            for number, statement, passages in judged_claims(messages)
        ]
        case = self._answers.get(question)
        every = for_question + [p for _, _, passages in judged_claims(messages) for p in passages]
        answered = case is not None and any(holds(text, case["answer"]) for _, text in every)
        answer: dict[str, Any] = {"verdicts": verdicts, "answers_question": answered}
        return json.dumps(answer)

    # ------------------------------------------------------------ writing

    def _of(self, source: str, kind: str) -> list[dict[str, str]]:
        return [c for c in self.claims if c["source"] == source and c["category"] == kind]

    def _about(self, case: dict[str, Any], numbers: dict[str, int], position: int) -> list[tuple[str, int, str]]:
        """Labelled claims about the answer's page: two true (paraphrased, verbatim), three false of
        kinds taken in turn, and one true cited to another source the run has, if any."""
        source = case["source"]
        cite = numbers[source]
        picks: list[tuple[str, int, str]] = []
        for kind, count in (("paraphrased", 1), ("verbatim", 1)):
            pool = self._of(source, kind)
            picks += [(pool[(position + i) % len(pool)]["claim"], cite, kind) for i in range(count)]
        for i in range(3):
            kind = FALSE_KINDS[(position * 3 + i) % len(FALSE_KINDS)]
            pool = self._of(source, kind)
            picks.append((pool[position % len(pool)]["claim"], cite, kind))
        others = [n for name, n in numbers.items() if name != source]
        pool = self._of(source, "wrong_citation")
        if others and pool:
            picks.append((pool[position % len(pool)]["claim"], others[0], "wrong_citation"))
        return picks

    def _write(self, lines: list[tuple[str, int, str]], written: dict[str, str]) -> str:
        out = []
        for text, number, kind in lines:
            claim = f"{text.rstrip('.')} [{number}]."
            written[" ".join(claim.split())] = kind
            out.append(f"- {claim}")
        return "\n".join(out)

    # ------------------------------------------------------------ judging

    def _verdict(self, statement: str, passages: list[tuple[int, str]]) -> dict[str, Any]:
        label = self._labels.get(key(statement))
        right: dict[str, Any] = {"verdict": "not_enough_info"}
        if label is not None:
            found = [n for n, text in passages if holds(text, label.evidence)]
            if found and label.kind in TRUE_KINDS:
                right = {"verdict": "supported", "sources": found[:1]}
            elif found:
                right = {"verdict": "contradicted"}
        if not self._wrong(statement):
            return right
        if right["verdict"] == "supported":
            return {"verdict": "contradicted"}
        return {"verdict": "supported", "sources": [passages[0][0]] if passages else []}

    def _wrong(self, key: str) -> bool:
        """Whether the judge errs on ``key``: a repeatable draw, ``judge_error`` of the time."""
        digest = hashlib.sha256(f"{self.seed}:{normal(key)}".encode()).digest()
        return int.from_bytes(digest[:4], "big") / 2**32 < self.judge_error
