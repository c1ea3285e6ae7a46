"""The workspace a fresh sandbox starts with: #research and #general, Ada, Grace and Linus.

Ada asks, Grace may approve (put her id in RESEARCH_APPROVERS), Linus may not. The ids are
fixed so settings and tests can name them.
"""

from __future__ import annotations

from sandbox.state import Workspace

__all__ = ["ADA", "APPROVERS", "GENERAL", "GRACE", "LINUS", "PEOPLE", "RESEARCH", "demo_workspace"]

ADA, GRACE, LINUS = "UADA", "UGRACE", "ULINUS"
PEOPLE = {ADA: ("ada", "Ada Lovelace"), GRACE: ("grace", "Grace Hopper"), LINUS: ("linus", "Linus Torvalds")}
APPROVERS = (GRACE,)  # RESEARCH_APPROVERS=UGRACE
RESEARCH, GENERAL = "CRESEARCH", "CGENERAL"


def demo_workspace(*, bot_token: str | None = None) -> Workspace:
    workspace = Workspace(team_id="T0SANDBOX", team_name="Sandbox", domain="sandbox", bot_token=bot_token)
    for user_id, (name, real_name) in PEOPLE.items():
        workspace.add_user(name, id=user_id, real_name=real_name)
    # The bot was invited to #research; #general it may post in (chat:write.public) but not read.
    workspace.add_channel("research", id=RESEARCH, members=list(PEOPLE), bot_member=True)
    workspace.add_channel("general", id=GENERAL, members=list(PEOPLE))
    workspace.post(
        GENERAL,
        user=ADA,
        text="Welcome to the sandbox! Research happens in <#CRESEARCH|research>: "
        "type `/research &lt;question&gt;` there.",
    )
    return workspace
