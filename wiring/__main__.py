"""`python -m wiring …` is the `crm-connector` command."""

import sys

from wiring import main

sys.exit(main())
