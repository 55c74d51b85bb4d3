"""`python -m reefguide …`: the `reefguide` command where the console script is not on
PATH (the local compute backend starts its workers this way)."""

from reefguide.cli import main

if __name__ == "__main__":
    main()
