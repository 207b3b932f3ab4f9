"""``python -m services.cli`` is the same as ``stancewatch``."""

from services.cli import main

main()
