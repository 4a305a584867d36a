"""`python -m lc_lsp`: the little-coder language server on stdio."""

import sys

from lc_lsp.server import main

sys.exit(main(sys.argv[1:]))
