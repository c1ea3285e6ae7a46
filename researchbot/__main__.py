from researchbot.cli import app

app(prog_name="researchbot")
