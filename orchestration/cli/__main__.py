"""`python -m orchestration.cli`: the same command line as the console script."""

from .main import main

raise SystemExit(main())
