import pytest

from pricer.data.items import Item
from pricer.data.prompts import make_completion, make_prompt, parse_price


def test_prompt_is_the_course_format():
    prompt = make_prompt("Acme kettle\nBoils fast.")
    assert prompt == (
        "How much does this cost to the nearest dollar?\n\nAcme kettle\nBoils fast.\n\nPrice is $"
    )


@pytest.mark.parametrize(
    ("price", "completion"), [(9.49, "9.00"), (9.5, "10.00"), (123.2, "123.00")]
)
def test_completion_is_whole_dollars(price, completion):
    assert make_completion(price) == completion


def test_item_builds_prompt_and_completion():
    item = Item(text="A lamp", price=41.7)
    assert item.prompt.endswith("A lamp\n\nPrice is $")
    assert item.completion == "42.00"


@pytest.mark.parametrize(
    ("generated", "price"),
    [
        ("123.00", 123.0),
        ("1,299.99 and more", 1299.99),
        ("Price is $45.00", 45.0),
        ("It costs 12 dollars... Price is $80", 80.0),
        ("  7", 7.0),
        ("no idea", None),
        ("", None),
    ],
)
def test_parse_price_takes_first_number_after_the_prefix(generated, price):
    assert parse_price(generated) == price
