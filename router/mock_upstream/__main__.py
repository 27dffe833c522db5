"""`python -m router.mock_upstream`: same as `autotier mock-upstream`."""

from router.mock_upstream.server import main

raise SystemExit(main())
