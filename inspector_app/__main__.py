"""`python -m inspector_app` is the same as the `inspector-app` console script."""

from inspector_app.cli import main

raise SystemExit(main())
