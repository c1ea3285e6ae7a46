"""Deterministic orchestration of research runs. Nothing in this package does I/O."""

DEFAULT_TASK_QUEUE = "research"

# Activity names, shared by the workflow (which calls them) and activities/ (which defines them).
PLAN_RESEARCH = "plan_research"
PLAN_REVISION = "plan_revision"
SYNTHESIZE_DRAFT = "synthesize_draft"
FINALIZE_ANSWER = "finalize_answer"
SEARCH = "search"
READ_PAGE = "read_page"
REPORT_PROGRESS = "report_progress"
STORE_RESULT = "store_result"
VERIFY_CITATIONS = "verify_citations"
REFLECT_ON_GAPS = "reflect_on_gaps"
RECORD_FEEDBACK = "record_feedback"  # a 👍 / 👎 rating (workflows/ratings.py); the name is in history
JUDGE_CLAIMS = "judge_claims"
