"""The model's verdicts applied to the citation check's: where a model is configured, it decides every
claim (workflows/steps.py asks it; activities/model/llm.py and activities/model/prompts.py ask the model).

Pure functions of plain data, so the workflow can apply them itself and replay gives the same answer.
A claim the judge gave no verdict (it failed, garbled its answer, or the budget was spent) is
``UNJUDGED``: never verified, marked, and said in the footer; a draft with unjudged claims is not
declined for them. A claim it found supported by a source the
claim does not cite is re-cited to that source.
"""

from __future__ import annotations

from collections.abc import Collection

from workflows.activity_io import ClaimVerdict, Entailment, JudgeOutput, VerifyOutput

__all__ = ["apply_verdicts", "recitations"]


def apply_verdicts(
    checked: VerifyOutput, judged: JudgeOutput | None, asked: Collection[int], problem: str | None = None
) -> VerifyOutput:
    """``checked`` with the judge's verdict on each claim of ``asked`` (by index) and on whether the
    question's passages answer it; where the judge says nothing of the question, the word test stands."""
    verdicts = {v.index: v for v in judged.verdicts} if judged is not None else {}
    claims = []
    for claim in checked.claims:
        if claim.index not in asked:
            claims.append(claim)
            continue
        verdict = verdicts.get(claim.index)
        if verdict is None:
            update = {"verdict": ClaimVerdict.UNJUDGED, "supported_by": []}
        elif verdict.verdict is Entailment.SUPPORTED:
            elsewhere = bool(verdict.sources) and not set(verdict.sources) & set(claim.numbers)
            update = {"verdict": ClaimVerdict.SUPPORTED, "supported_by": verdict.sources if elsewhere else []}
        else:
            update = {"verdict": ClaimVerdict.UNSUPPORTED, "supported_by": []}
        claims.append(claim.model_copy(update=update))
    unjudged = any(c.verdict is ClaimVerdict.UNJUDGED for c in claims)
    if unjudged and problem is None:
        problem = (judged.problem if judged is not None else None) or "the judge gave no verdict on some claims"
    return checked.model_copy(
        update={
            "claims": claims,
            "relevant": checked.relevant
            if judged is None or judged.answers_question is None
            else judged.answers_question,
            "judged": True,
            "judge_problem": problem if unjudged else None,
        }
    )


def recitations(checked: VerifyOutput) -> dict[int, tuple[int, ...]]:
    """The supported claims to cite to other sources than they do, by index."""
    return {
        c.index: tuple(c.supported_by) for c in checked.claims if c.verdict is ClaimVerdict.SUPPORTED and c.supported_by
    }
