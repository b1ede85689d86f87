"""Lab validation: the bench bound and distinct benches."""

from __future__ import annotations

import pytest

from app.domain.errors import ValidationError
from app.domain.lab import MAX_BENCHES, Bench, Lab, check_bench_count


def test_bench_count_is_bounded() -> None:
    assert check_bench_count(0) == 0 and check_bench_count(MAX_BENCHES) == MAX_BENCHES == 500
    for bad in (-1, MAX_BENCHES + 1, 10**20):
        with pytest.raises(ValidationError, match="0 to 500 benches") as err:
            check_bench_count(bad)
        assert err.value.field == "benches"


def test_a_lab_with_too_many_benches_is_refused() -> None:
    many = tuple(Bench(i, f"B{i}") for i in range(1, MAX_BENCHES + 2))
    with pytest.raises(ValidationError, match="0 to 500 benches"):
        Lab(name="Big", spaces=10, benches=many)


@pytest.mark.parametrize("second", [Bench(2, "bench 1"), Bench(1, "Bench 2")])
def test_benches_must_be_distinct(second) -> None:
    with pytest.raises(ValidationError, match="appears twice") as err:
        Lab(name="L", spaces=10, benches=(Bench(1, "Bench 1"), second))
    assert err.value.field == "benches"


def test_service_refuses_an_absurd_bench_count_before_building_it(ctx) -> None:
    # Before the bound, this built a list of 10**20 benches and grew memory without limit.
    with pytest.raises(ValidationError, match="0 to 500 benches"):
        ctx.lab_service.add_lab("Huge", 10, benches=10**20)
    assert ctx.labs.count() == 0
