"""`python -m mlcycle` runs the command line."""

from mlcycle.cli import main

main()
