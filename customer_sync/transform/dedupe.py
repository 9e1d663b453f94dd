"""Duplicate detection and survivor choice on a derived frame.

Two rows are duplicates when they share ``customer_id`` or (if email matching is on) a
valid normalized email; grouping is transitive. Polars finds the rows that collide at
all; a small union-find joins only those rows into groups. In each group the survivor
is the row with the highest ``data_quality_score``, then the latest valid ``updated_at``
(a missing or invalid one ranks last), then the lowest ``customer_id``, then the
earliest position. The survivor is kept exactly as it is.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from ..models import Merge

__all__ = ["components", "deduplicate", "plan_deduplication"]


def components(size: int, links: Sequence[Sequence[int | None]]) -> list[int]:
    """Connected components of nodes ``0..size-1``: the smallest node of each one's group.

    ``links[k][node]`` names another node that ``node`` is joined to (or None).
    """
    parent = list(range(size))

    def find(node: int) -> int:
        root = node
        while parent[root] != root:
            root = parent[root]
        while parent[node] != root:  # path compression
            parent[node], node = root, parent[node]
        return root

    for targets in links:
        for node, other in enumerate(targets):
            if other is None or other == node:
                continue
            a, b = find(node), find(other)
            if a != b:
                parent[max(a, b)] = min(a, b)
    return [find(node) for node in range(size)]


def deduplicate(frame: pl.DataFrame, *, match_email: bool) -> tuple[pl.DataFrame, list[Merge]]:
    """The survivors of ``frame`` (same columns) and one :class:`Merge` per other row.

    ``frame`` needs ``position``, ``customer_id``, ``email_key``, ``data_quality_score``
    and ``updated_at_us``. Merges are in input order (by position). A merge's reason is
    ``same_id`` when the merged row has the survivor's id, else ``same_email`` (rows with
    different ids can only be joined through a shared email).
    """
    survivors, merges = plan_deduplication(frame, match_email=match_email)
    return survivors.collect(), merges


def plan_deduplication(
    frame: pl.DataFrame, *, match_email: bool
) -> tuple[pl.LazyFrame, list[Merge]]:
    """:func:`deduplicate` with the survivors left lazy, to be filtered in a later query."""
    collides = pl.col("customer_id").is_duplicated()
    if match_email:
        email = pl.col("email_key")
        collides = collides | (email.is_not_null() & email.is_duplicated())
    keys = ["position", "customer_id", "email_key", "data_quality_score", "updated_at_us"]
    grouped = frame.select(keys).filter(collides).with_row_index("_node")
    if grouped.is_empty():
        return frame.lazy(), []

    node = pl.col("_node")
    link_columns = [node.min().over("customer_id").alias("_by_id")]
    if match_email:
        link_columns.append(
            pl.when(pl.col("email_key").is_not_null())
            .then(node.min().over("email_key"))
            .alias("_by_email")
        )
    links = grouped.select(link_columns)
    group = components(grouped.height, [links[name].to_list() for name in links.columns])

    ranked = grouped.with_columns(pl.Series("_group", group, dtype=pl.Int64)).sort(
        ["_group", "data_quality_score", "updated_at_us", "customer_id", "position"],
        descending=[False, True, True, False, False],
        nulls_last=[False, False, True, False, False],
    )
    merged = (
        ranked.with_columns(pl.col("customer_id").first().over("_group").alias("_survivor_id"))
        .filter(~pl.col("_group").is_first_distinct())
        .sort("position")
        .select("_survivor_id", "customer_id", "position")
    )
    merges = [
        Merge(
            survivor_id=survivor,
            merged_id=merged_id,
            reason="same_id" if merged_id == survivor else "same_email",
            position=position,
        )
        for survivor, merged_id, position in merged.iter_rows()
    ]
    gone = merged["position"].implode()
    return frame.lazy().filter(~pl.col("position").is_in(gone)), merges
