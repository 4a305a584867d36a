"""The benchmark harness: the paper's Aider-Polyglot protocol on the same Session as everything else.

exercises.py finds exercises (public polyglot-benchmark layout); prepare.py makes clean copies with the
tests un-skipped; guard.py restores tampered tests; runners.py and limits.py grade offline under limits;
prompts.py words the two attempts; harness.py runs them; results.py is results.json; progress.py is the
live line; report.py reads results back; cli.py is `little-coder bench`.
"""
