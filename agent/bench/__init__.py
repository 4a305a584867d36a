"""The benchmark harness: the paper's Aider-Polyglot protocol on the same Session as everything else.

exercises.py finds exercises (public polyglot-benchmark layout); prepare.py makes clean copies with the
tests un-skipped; workcopy.py lays out one exercise's copy and grades it; guard.py restores tampered
tests; dependencies/ fetches what an exercise's build files declare; runners/ (one module per language)
and limits.py grade offline, in the sandbox, under limits; output_clean.py strips machine paths and
timings from what the model sees; grading_env.py records toolchain versions and the compiler cache;
prompts.py words the two attempts; harness.py runs them; verify.py grades the reference solutions
(`bench verify`); reference.py places them; results.py is results.json; progress.py is the live line;
report.py reads results back; cli.py is `little-coder bench`.
"""
