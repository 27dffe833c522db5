"""RouteLLM's published results on its own evaluation sets (GPT-4-1106 vs Mixtral-8x7B), quoted
for comparison. Values: (CPT(50%) in %, CPT(80%) in %, APGR); None where no figure was found.

Where they come from: Ong et al., "RouteLLM: Learning to Route LLMs with Preference Data"
(arXiv:2406.18665, ICLR 2025), the results tables for MT Bench, MMLU and GSM8K. The stored
copy of the paper reachable from this workspace shows only its opening, so the figures were
taken from two public notes that transcribe those tables (found with the code search index,
ids 53154824876 and 70709695534): one gives every router at one decimal, the other the
random and best routers at two decimals, and they agree. They have not been checked against
the paper's PDF itself.
"""

from __future__ import annotations

ROUTELLM_SOURCE_NOTE = (
    "RouteLLM paper (Ong et al., arXiv:2406.18665, ICLR 2025), results tables for MT Bench, MMLU and GSM8K; "
    "read from two public notes that transcribe those tables (code-search ids 53154824876, one decimal, all routers; "
    "70709695534, two decimals, random and best routers), which agree; not checked against the PDF itself. "
    "RouteLLM's routers are trained on Chatbot Arena preferences plus augmentation (D_judge: GPT-4-judged "
    "conversations; D_gold: MMLU validation labels), never on the evaluation set itself."
)

Row = tuple[str, str, float | None, float | None, float | None]  # (training data, router, cpt50, cpt80, apgr)

ROUTELLM_PUBLISHED: dict[str, list[Row]] = {
    "mt_bench": [
        ("-", "random (95% CI mean)", 49.03, 78.08, 0.500),
        ("Arena", "SW ranking", 37.9, 59.0, 0.610),
        ("Arena", "matrix factorization", 25.3, 74.3, 0.580),
        ("Arena", "causal LLM", 28.8, 77.5, 0.573),
        ("Arena", "BERT", 78.1, 87.6, 0.391),
        ("Arena + judge", "matrix factorization", 13.40, 31.31, 0.802),
        ("Arena + judge", "SW ranking", 23.2, 36.0, 0.759),
        ("Arena + judge", "BERT", 19.6, 34.0, 0.751),
        ("Arena + judge", "causal LLM", 31.5, 48.8, 0.679),
    ],
    "mmlu": [
        ("-", "random (95% CI mean)", 50.07, 79.9, 0.500),
        ("Arena + gold", "SW ranking", 35.40, 71.6, 0.603),
        ("Arena + gold", "causal LLM", 35.5, 70.3, 0.600),
        ("Arena + gold", "matrix factorization", 35.5, 71.4, 0.597),
        ("Arena + gold", "BERT", 41.3, 72.2, 0.572),
    ],
    "gsm8k": [
        ("-", "random (95% CI mean)", 50.00, 80.1, 0.497),
        ("Arena + judge", "causal LLM", 33.64, 63.3, 0.622),
        ("Arena + judge", "SW ranking", 41.2, 72.2, 0.568),
        ("Arena + judge", "matrix factorization", 38.8, 72.6, 0.565),
        ("Arena + judge", "BERT", 44.8, 79.1, 0.531),
    ],
}
