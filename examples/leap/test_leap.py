from leap import is_leap


def test_ordinary_year():
    assert not is_leap(2015)


def test_divisible_by_four():
    assert is_leap(1996)


def test_century_is_not_leap():
    assert not is_leap(1900)


def test_fourth_century_is_leap():
    assert is_leap(2000)
