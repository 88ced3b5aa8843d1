"""Tiered evaluation of a planned query: the same best passages, reading far fewer rows.

A passage scores the sum of the weights of the clauses it matches (ranking.py). Scoring every
clause in full reads every posting of every clause. On PostgreSQL each posting read is a visit
to the table row (a GIN index yields row locations, not chunk ids, and the permission test
needs the id), and a clause of middling rarity has thousands of postings: those visits were
most of the search time at a million passages. FTS5 yields rowids from the index itself, so
SQLite pays much less for them, but it runs the same plan.

The heaviest clauses decide the top, though. Take the fewest heaviest clauses as *essential*
such that all the others (*optional*) together weigh less than the lightest essential one.
Every passage matching an essential clause then outscores every passage matching none, so:

- tier 1 reads the essential clauses in full, and each optional clause only where it occurs
  together with an essential one (an AND the index evaluates by itself, before any row is
  read); that scores every tier-1 passage exactly;
- when tier 1 holds fewer readable passages than asked for, the rest are the best passages that
  match no essential clause: the same problem again on the optional clauses, with the essential
  ones excluded.

This is the MaxScore idea of search engines, expressed as boolean full-text queries. The top
passages are the ones scoring every clause would give; among equal scores the order of ids is
kept, except where a tier is a single clause on PostgreSQL (index.py explains why).
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from backend.knowledge.ranking import Clause


@dataclass(frozen=True)
class Probe:
    """One index probe of a tier: a clause, optionally required to co-occur with one of
    `along_with`, never with any of `excluded`."""

    clause: Clause
    along_with: tuple[Clause, ...] = ()
    excluded: tuple[Clause, ...] = ()

    @property
    def weight(self) -> float:
        return self.clause.weight

    def match(self, sqlite: bool) -> str:
        """The probe as an FTS5 MATCH expression or a to_tsquery() string."""
        expression = f"({self.clause.match(sqlite)})"
        either = " OR " if sqlite else " | "
        if self.along_with:
            anyone = either.join(f"({c.match(sqlite)})" for c in self.along_with)
            expression += f" AND ({anyone})" if sqlite else f" & ({anyone})"
        if self.excluded:
            noone = either.join(f"({c.match(sqlite)})" for c in self.excluded)
            # FTS5's NOT is binary and binds tighter than AND: bracket what it applies to.
            expression = (f"({expression}) NOT ({noone})" if sqlite
                          else f"{expression} & !({noone})")
        return expression


@dataclass(frozen=True)
class Tier:
    """Clauses scored together; `excluded` are the essential clauses of earlier tiers."""

    essential: tuple[Clause, ...]
    optional: tuple[Clause, ...]
    excluded: tuple[Clause, ...]

    def probes(self) -> list[Probe]:
        return ([Probe(c, (), self.excluded) for c in self.essential]
                + [Probe(c, self.essential, self.excluded) for c in self.optional])


def split(clauses: Sequence[Clause]) -> tuple[tuple[Clause, ...], tuple[Clause, ...]]:
    """The fewest heaviest clauses whose lightest outweighs all the others together, and the
    others. Strictly: on a tie, a passage with only optional clauses could share a place."""
    ordered = sorted(clauses, key=lambda c: -c.weight)
    for count in range(1, len(ordered)):
        if sum(c.weight for c in ordered[count:]) < ordered[count - 1].weight:
            return tuple(ordered[:count]), tuple(ordered[count:])
    return tuple(ordered), ()


def tiers(plan: Sequence[Clause]) -> Iterator[Tier]:
    """The tiers of a plan, best first; the caller stops once it has enough passages."""
    remaining: Sequence[Clause] = plan
    excluded: tuple[Clause, ...] = ()
    while remaining:
        essential, optional = split(remaining)
        yield Tier(essential, optional, excluded)
        excluded += essential
        remaining = optional
