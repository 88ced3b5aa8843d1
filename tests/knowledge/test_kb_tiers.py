"""Tiered search (knowledge/tiers.py): how clauses are split, and what each probe asks for."""
from __future__ import annotations

from backend.knowledge.ranking import Clause
from backend.knowledge.tiers import Probe, split, tiers

RARE = Clause(("zephyr",), 10.0)
MIDDLING = Clause(("warranty",), 4.0)
COMMON = Clause(("price",), 3.0)


def test_clauses_that_together_weigh_less_than_the_rarest_become_optional():
    assert split([COMMON, RARE, MIDDLING]) == ((RARE,), (MIDDLING, COMMON))


def test_clauses_of_equal_weight_are_all_essential():
    a, b, c = Clause(("a1",), 8.5), Clause(("b1",), 8.5), Clause(("c1",), 8.5)
    assert split([a, b, c]) == ((a, b, c), ())
    # 4 + 3 is not less than 7: a passage holding only those two would score as much as one
    # holding x1, so x1 alone is not enough to decide the top.
    x, y, z = Clause(("x1",), 7.0), Clause(("y1",), 4.0), Clause(("z1",), 3.0)
    assert split([x, y, z]) == ((x, y), (z,))


def test_later_tiers_exclude_the_essential_clauses_of_earlier_ones():
    first, second, third = tiers([COMMON, MIDDLING, RARE])
    assert (first.essential, first.optional, first.excluded) == ((RARE,), (MIDDLING, COMMON), ())
    assert (second.essential, second.optional, second.excluded) == ((MIDDLING,), (COMMON,),
                                                                    (RARE,))
    assert (third.essential, third.optional, third.excluded) == ((COMMON,), (), (RARE, MIDDLING))
    assert [p.weight for p in first.probes()] == [10.0, 4.0, 3.0]


def test_optional_probes_only_count_next_to_an_essential_clause_on_both_databases():
    probe = Probe(COMMON, along_with=(RARE, Clause(("x200", "model"), 9.0)),
                  excluded=(Clause(("nightjar",), 11.0),))
    assert probe.match(sqlite=False) == (
        "(price) & ((zephyr) | (x200 & model)) & !((nightjar))")
    assert probe.match(sqlite=True) == (
        '(("price") AND (("zephyr") OR ("x200" AND "model"))) NOT (("nightjar"))')
    assert Probe(RARE).match(sqlite=False) == "(zephyr)"
    assert Probe(RARE).match(sqlite=True) == '("zephyr")'
