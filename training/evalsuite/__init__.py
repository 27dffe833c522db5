"""The shipped per-route-key eval suite: cases (`cases`), automatic graders (`graders`) and
the runner that asks a model every case (`runner`, `autotier accuracy eval`).

    from training.evalsuite import load_suite, grade
    cases = load_suite()                        # data/eval_suite/*.yaml
    grade(cases[0], "```python\n...\n```")      # Grade(passed, score, grader, detail)
"""

from training.evalsuite.cases import DEFAULT_SUITE, Case, load_suite, suite_hash
from training.evalsuite.graders import Grade, grade, judge_prompt, parse_verdict

__all__ = ["DEFAULT_SUITE", "Case", "Grade", "grade", "judge_prompt", "load_suite", "parse_verdict", "suite_hash"]
