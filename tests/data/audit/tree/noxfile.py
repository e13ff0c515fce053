"""Fixture noxfile: session.install without hashes floats."""

import nox


@nox.session
def tests(session):
    session.install("pytest")
    session.install("--require-hashes", "-r", "requirements/test.txt")
    session.run("pip", "install", "-U", "coverage")
    session.run("go", "install", "example.com/gen@v1.0.0")
    session.run("echo", "pip install in echo")
    print("pip install in a string that is never run")
