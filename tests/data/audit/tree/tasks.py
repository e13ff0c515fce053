"""Fixture tasks.py."""

from invoke import task


@task
def tools(c):
    c.run("go install golang.org/x/tools/gopls@latest")
    c.run("pip install --require-hashes -r requirements.txt")
    c.run("curl -fsSL https://example.com/i.sh | bash")
