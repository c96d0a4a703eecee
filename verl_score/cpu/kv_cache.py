"""A KV cache for continuous batching on CPU: rows join and leave while the batch keeps decoding.

Layout: every row's *last* token sits in the same (last) column, so one decode step appends one column for the whole
batch. A row that joins with a shorter history is left-padded with zero keys/values and a 0 in the attention mask;
a row that joins with a longer one left-pads everyone else. Zero (not garbage) padding matters: masked columns get
zero attention weight, and ``0 * finite = 0`` whereas a NaN there would poison the whole row.

Each layer keeps a pre-allocated buffer with spare columns, so a decode step writes in place instead of copying the
whole cache (``DynamicCache`` re-allocates it with ``torch.cat`` on every token). Joining, leaving and trimming the
padding columns nobody needs any more copy, but only when the batch composition changes.
"""

from __future__ import annotations

import torch
from transformers.cache_utils import DynamicCache, DynamicLayer

#: Spare columns allocated at each (re)allocation: that many decode steps run without a copy.
GROWTH = 64


class SlotLayer(DynamicLayer):
    """One attention layer's keys/values ``[batch, kv_heads, columns, head_dim]`` in a buffer with spare columns."""

    def __init__(self, keys: torch.Tensor, values: torch.Tensor, growth: int = GROWTH) -> None:
        super().__init__()
        batch, heads, length, dim = keys.shape
        self.dtype, self.device = keys.dtype, keys.device
        self._k = keys.new_zeros(batch, heads, length + growth, dim)
        self._v = values.new_zeros(batch, values.shape[1], length + growth, values.shape[-1])
        self._k[:, :, :length] = keys
        self._v[:, :, :length] = values
        self.length = length
        self.is_initialized = True
        self._refresh()

    def _refresh(self) -> None:
        self.keys = self._k[:, :, : self.length]
        self.values = self._v[:, :, : self.length]

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        new = key_states.shape[-2]
        if self.length + new > self._k.shape[-2]:
            grow = max(GROWTH, new)
            self._k = torch.cat([self._k, self._k.new_zeros(*self._k.shape[:2], grow, self._k.shape[-1])], dim=-2)
            self._v = torch.cat([self._v, self._v.new_zeros(*self._v.shape[:2], grow, self._v.shape[-1])], dim=-2)
        self._k[:, :, self.length : self.length + new] = key_states
        self._v[:, :, self.length : self.length + new] = value_states
        self.length += new
        self._refresh()
        return self.keys, self.values

    def get_seq_length(self) -> int:
        return self.length


def _pad_left(t: torch.Tensor, columns: int) -> torch.Tensor:
    if columns == 0:
        return t
    return torch.cat([t.new_zeros(*t.shape[:2], columns, t.shape[-1]), t], dim=-2)


class SlotCache(DynamicCache):
    """A ``DynamicCache`` of ``SlotLayer``s plus the batch operations continuous batching needs."""

    def __init__(self, kv: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        super().__init__()
        self.layers = [SlotLayer(k, v) for k, v in kv]
        self.layer_class_to_replicate = None

    @classmethod
    def from_cache(cls, cache: DynamicCache) -> "SlotCache":
        """Adopt the cache a prefill forward returned (any ``DynamicCache`` of full-attention layers)."""
        kv = []
        for layer in cache.layers:
            if getattr(layer, "is_sliding", False):
                raise NotImplementedError("hfcpu batching supports full-attention models only (no sliding window)")
            kv.append((layer.keys, layer.values))
        return cls(kv)

    @property
    def num_columns(self) -> int:
        return self.layers[0].length if self.layers else 0

    def kv(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return [(layer.keys, layer.values) for layer in self.layers]

    @staticmethod
    def concat(first: "SlotCache", second: "SlotCache") -> "SlotCache":
        """Stack two batches, right-aligned: the shorter one is left-padded with zero columns."""
        width = max(first.num_columns, second.num_columns)
        kv = []
        for (k1, v1), (k2, v2) in zip(first.kv(), second.kv()):
            p1, p2 = width - k1.shape[-2], width - k2.shape[-2]
            kv.append((torch.cat([_pad_left(k1, p1), _pad_left(k2, p2)]), torch.cat([_pad_left(v1, p1), _pad_left(v2, p2)])))
        return SlotCache(kv)

    def select(self, rows: torch.Tensor, drop_columns: int = 0) -> "SlotCache":
        """Keep ``rows`` (in that order) and drop the ``drop_columns`` leftmost columns (padding for every kept row)."""
        return SlotCache([(k[rows, :, drop_columns:], v[rows, :, drop_columns:]) for k, v in self.kv()])
