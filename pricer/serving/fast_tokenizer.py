"""The base's tokenizer read with the `tokenizers` library alone: what transformers' fast tokenizer
wraps, without importing transformers. It offers the few calls decoding makes."""

from __future__ import annotations

import json
from pathlib import Path

from pricer.serving.decoder import UnsupportedModel


class FastTokenizer:
    def __init__(self, folder: Path):
        from tokenizers import Tokenizer

        folder = Path(folder)
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        # transformers switches a saved tokenizer's own padding and truncation off on each call.
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        settings = json.loads((folder / "tokenizer_config.json").read_text())
        generation = json.loads((folder / "generation_config.json").read_text())
        eos = self._tokenizer.token_to_id(settings["eos_token"])
        pad = settings.get("pad_token")
        self.pad_token_id = eos if pad is None else self._tokenizer.token_to_id(pad)
        ends = generation.get("eos_token_id", eos)
        # generate() stops on the generation config's end tokens, which may be several.
        self.end_ids = ends if isinstance(ends, list) else [ends]
        kind = type(self._tokenizer.model).__name__
        if settings.get("clean_up_tokenization_spaces") and kind != "BPE":
            # transformers would tidy spaces around punctuation on decode (never for BPE).
            raise UnsupportedModel(f"a {kind} tokenizer that tidies spaces on decode")

    def __len__(self) -> int:
        return self._tokenizer.get_vocab_size(with_added_tokens=True)

    def encode(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self._tokenizer.encode_batch(texts, add_special_tokens=False)]

    def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
        return self._tokenizer.decode(ids, skip_special_tokens=skip_special_tokens)

    def batch_decode(self, rows, skip_special_tokens: bool = True) -> list[str]:
        return [self.decode(list(map(int, row)), skip_special_tokens) for row in rows]

    def convert_ids_to_tokens(self, ids: list[int]) -> list[str | None]:
        return [self._tokenizer.id_to_token(i) for i in ids]
