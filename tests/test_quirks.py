"""The sandboxes' seeded least-convenient answers: the same for a seed, varied across seeds."""

from __future__ import annotations

from core.sandbox.quirks import Quirks

ROWS = list(range(40))


def test_an_order_is_stable_for_a_list_and_varies_with_the_seed() -> None:
    quirks = Quirks(3)
    assert quirks.order(ROWS, "students") == quirks.order(ROWS, "students")
    assert sorted(quirks.order(ROWS, "students")) == ROWS
    orders = {tuple(Quirks(seed).order(ROWS, "students")) for seed in range(5)}
    assert len(orders) == 5
    assert tuple(ROWS) not in orders


def test_a_page_is_smaller_than_asked_and_the_same_for_every_page_of_a_list() -> None:
    sizes = {Quirks(seed).page_size(1000, "/api/staff") for seed in range(10)}
    assert all(1 <= size < 1000 for size in sizes)
    assert len(sizes) > 1
    assert Quirks(1).page_size(1000, "/api/staff") == Quirks(1).page_size(1000, "/api/staff")
    assert Quirks(1).page_size(1) == 1


def test_extra_fields_never_replace_real_ones() -> None:
    record = {"id": 1, "revision": "real", "name": "x"}
    decorated = Quirks(2).decorate(record, 1)
    assert decorated.keys() > record.keys()
    assert {k: decorated[k] for k in record} == record


def test_a_message_is_reworded_differently_across_seeds() -> None:
    said = {Quirks(seed).reword("TimetableId header is required") for seed in range(8)}
    assert len(said) > 1
    assert any(s != "TimetableId header is required" for s in said)


def test_a_header_is_sometimes_left_out() -> None:
    sent = {Quirks(seed).header("Pagination", "/api/students") for seed in range(20)}
    assert sent == {True, False}


def test_no_quirks_answers_plainly() -> None:
    plain = Quirks(None)
    assert plain.order(ROWS, "x") == ROWS
    assert plain.page_size(1000) == 1000
    assert plain.decorate({"id": 1}) == {"id": 1}
    assert plain.reword("Not Found") == "Not Found"
    assert plain.header("Pagination") is True
