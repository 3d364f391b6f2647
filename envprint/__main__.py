"""`python -m envprint`: the envprint command line."""

from envprint.cli import main

if __name__ == "__main__":
    main()
