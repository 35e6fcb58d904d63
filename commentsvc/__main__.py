"""python -m commentsvc: the same as the commentsvc command."""

from commentsvc.cli import main

main()
