"""Raw user/item ids (ints or strings) and the dense indices the engine works with."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

RawId = int | str
IdArray = npt.NDArray[Any]


def as_id_array(values: Iterable[Any] | npt.ArrayLike) -> IdArray:
    """Ids as an int64 array when they are all integral numbers, else as a unicode array."""
    arr = values if isinstance(values, np.ndarray) else np.asarray(list(values))  # type: ignore[arg-type]
    if arr.ndim != 1:
        arr = arr.reshape(-1)
    if arr.dtype.kind in "iub":
        return arr.astype(np.int64)
    if arr.dtype.kind == "f" and arr.size and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
        return arr.astype(np.int64)
    # Mixed or object input: strings are the only lossless common type (and npz stores them without pickle).
    return arr.astype(str)


class IdIndex:
    """Bidirectional map between raw ids and inner indices, numbered in order of first appearance."""

    def __init__(self, raw_ids: IdArray) -> None:
        self.raw_ids = raw_ids
        # tolist() already yields what _key returns (ints for an int array, strs for a str array).
        self._lookup: dict[RawId, int] = dict(zip(raw_ids.tolist(), range(len(raw_ids)), strict=True))
        if len(self._lookup) != len(raw_ids):
            raise ValueError("ids must be unique")
        self._order = np.argsort(raw_ids, kind="stable")
        self._sorted = raw_ids[self._order]
        # Compact integer ids (the common case) are looked up in a table: one gather instead of a binary
        # search per query, which mattered when every cross-validation fold looks up 20k test pairs.
        self._low = 0
        self._table: npt.NDArray[np.int64] | None = None
        if raw_ids.dtype.kind == "i" and raw_ids.size:
            low, high = int(self._sorted[0]), int(self._sorted[-1])
            if high - low <= 4 * raw_ids.size + 1024:
                self._low = low
                self._table = np.full(high - low + 1, -1, dtype=np.int64)
                self._table[raw_ids - low] = np.arange(raw_ids.size, dtype=np.int64)

    @classmethod
    def encode(cls, values: IdArray) -> tuple[IdIndex, npt.NDArray[np.int64]]:
        """Index the distinct ids in order of first appearance, as Surprise numbers its inner ids."""
        if values.dtype.kind == "i" and values.size:
            low, high = int(values.min()), int(values.max())
            if high - low <= 4 * values.size + 1024:
                return cls._encode_dense(values, low, high)
        uniques, first, inverse = np.unique(values, return_index=True, return_inverse=True)
        order = np.argsort(first, kind="stable")
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order), dtype=np.int64)
        return cls(uniques[order]), rank[inverse.reshape(-1)]

    @classmethod
    def _encode_dense(cls, values: IdArray, low: int, high: int) -> tuple[IdIndex, npt.NDArray[np.int64]]:
        # Compact integer ids (the common case) are indexed by a lookup table, avoiding two full sorts.
        offsets = values - low
        first = np.full(high - low + 1, values.size, dtype=np.int64)
        np.minimum.at(first, offsets, np.arange(values.size, dtype=np.int64))
        present = np.flatnonzero(first < values.size)
        order = present[np.argsort(first[present], kind="stable")]
        rank = np.full(high - low + 1, -1, dtype=np.int64)
        rank[order] = np.arange(len(order), dtype=np.int64)
        return cls((order + low).astype(np.int64)), rank[offsets]

    def __len__(self) -> int:
        return len(self.raw_ids)

    def _key(self, value: Any) -> RawId:
        # Accept "12347" for an int-keyed model and 12347 for a str-keyed one: callers rarely know which.
        if self.raw_ids.dtype.kind == "i":
            try:
                return int(value)
            except (TypeError, ValueError):
                return str(value)
        return str(value)

    def index_of(self, value: Any) -> int:
        """The inner index of one raw id, or -1 when it was never seen."""
        return self._lookup.get(self._key(value), -1)

    def indices(self, values: Sequence[Any] | npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Inner indices of many raw ids; -1 marks ids never seen."""
        arr = np.asarray(values).reshape(-1)
        if arr.size == 0 or len(self.raw_ids) == 0:
            return np.full(arr.size, -1, dtype=np.int64)
        try:
            query = arr.astype(np.int64 if self.raw_ids.dtype.kind == "i" else str)
        except (TypeError, ValueError):
            return np.fromiter((self.index_of(v) for v in arr.tolist()), dtype=np.int64, count=arr.size)
        if self._table is not None:
            offsets = query - self._low
            inside = (offsets >= 0) & (offsets < len(self._table))
            return np.where(inside, self._table[np.where(inside, offsets, 0)], -1)
        pos = np.minimum(np.searchsorted(self._sorted, query), len(self._sorted) - 1)
        found = self._sorted[pos] == query
        return np.where(found, self._order[pos], -1).astype(np.int64)

    def raw(self, index: int) -> RawId:
        """The raw id of one inner index, as a plain Python int or str."""
        value = self.raw_ids[index].item()
        return int(value) if isinstance(value, int) else str(value)
