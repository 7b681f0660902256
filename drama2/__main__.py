"""`python -m drama2` runs the command-line interface."""

from drama2.cli import main

if __name__ == "__main__":
    main()
