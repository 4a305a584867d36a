import unittest

from digit_sum import digit_sum


class DigitSumTest(unittest.TestCase):
    def test_zero(self):
        self.assertEqual(digit_sum(0), 0)

    def test_single_digit(self):
        self.assertEqual(digit_sum(7), 7)

    def test_several_digits(self):
        self.assertEqual(digit_sum(1234), 10)

    def test_all_nines(self):
        self.assertEqual(digit_sum(99999), 45)

    def test_negative_is_refused(self):
        with self.assertRaises(ValueError) as caught:
            digit_sum(-5)
        self.assertEqual(str(caught.exception), "number must be non-negative")
