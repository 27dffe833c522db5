"""Word-piece ids of a text from cached pieces: the tokenizer runs once per distinct piece.

A BERT-style tokenizer (the static embedder's) splits text at whitespace and at every
ASCII punctuation character before word-piece matching, so a text's ids are the
concatenation of the ids of those pieces, each tokenized alone. Coding prompts repeat
their pieces (identifiers, keywords, English words), so after warm-up almost every piece
is a dictionary hit, and a request costs a regular-expression split and a few hundred
lookups instead of a full tokenizer pass (about 5x less for 1,000 characters).

Exact for what the embedder sees (truncation, special tokens and their literals in the
text included), except ASCII control characters between letters (removed by the
tokenizer's normaliser, a split here); the tests compare both paths on real prompts.
"""

from __future__ import annotations

import re
from itertools import chain

import numpy as np
from tokenizers import Tokenizer

# A run of characters that are neither whitespace nor ASCII punctuation, or one ASCII
# punctuation character (BERT's pre-tokenizer makes each of those a token of its own);
# the tokenizer's added tokens ("[CLS]", ...) are matched whole first, as it does.
_RUN = r"[^\s!-/:-@\[-`{-~]+|[!-/:-@\[-`{-~]"


class PieceCache:
    """`ids(text, max_tokens)`: the tokenizer's first `max_tokens` ids for `text`, special
    tokens ([UNK], ...) then dropped.

    `keep[id]` says whether a token id is kept (special tokens are not); at most
    `max_entries` pieces are cached (the cache starts over when full), so memory stays
    bounded whatever the traffic. Safe to share between threads under the GIL (a race
    only tokenizes a piece twice).
    """

    def __init__(self, tokenizer: Tokenizer, keep: np.ndarray, max_entries: int = 200_000) -> None:
        self._tokenizer = tokenizer
        self._keep = keep
        self.max_entries = max_entries
        self._cache: dict[str, tuple[int, ...]] = {}
        added = sorted((t.content for t in tokenizer.get_added_tokens_decoder().values()), key=len, reverse=True)
        self._piece = re.compile("|".join([*(re.escape(a) for a in added if a), _RUN]))

    def __len__(self) -> int:
        return len(self._cache)

    def _fill(self, pieces: list[str]) -> None:
        cache = self._cache
        missing = list(dict.fromkeys(p for p in pieces if p not in cache))
        if not missing:
            return
        if len(cache) + len(missing) > self.max_entries:
            cache.clear()
            missing = list(dict.fromkeys(pieces))
        for piece, enc in zip(missing, self._tokenizer.encode_batch(missing, add_special_tokens=False), strict=True):
            cache[piece] = tuple(enc.ids)

    def ids(self, text: str, max_tokens: int) -> np.ndarray:
        """Token ids of `text`, the first `max_tokens` of them."""
        pieces = self._piece.findall(text)
        self._fill(pieces)
        cache = self._cache
        flat = np.fromiter(chain.from_iterable(map(cache.__getitem__, pieces)), dtype=np.int64)[:max_tokens]
        return flat[self._keep[flat]]  # truncated first, then special tokens dropped, as the tokenizer path does
